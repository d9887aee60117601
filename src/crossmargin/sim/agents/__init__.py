"""Risk agents: pluggable policies that act on a book through the engine loop's inbound events
(:mod:`crossmargin.sim.agents.protocol`), given as data (:mod:`crossmargin.sim.agents.config`): a trader's
de-risking agent (:mod:`crossmargin.sim.agents.trader`, on the buffer of :mod:`crossmargin.sim.agents.buffer`)
and a venue's risk agent (:mod:`crossmargin.sim.agents.venue`)."""
