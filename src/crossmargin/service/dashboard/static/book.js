// The book view: its aggregates live from the `book` topic, the accounts nearest to liquidation (polled),
// and the liquidation map of one instrument (reloaded when the book moved, at most once a second).

import {
  CHART_CONFIG,
  SortableTable,
  api,
  chartLayout,
  every,
  explain,
  follow,
  onOracle,
  setFigure,
  shown,
  throttled,
} from "./common.js";

const FIGURE_KINDS = {
  equity: "money",
  initial_margin: "money",
  maintenance_margin: "money",
  liquidatable: "count",
  insurance_fund: "money",
  bad_debt: "money",
  fee_pool: "money",
  adl_count: "count",
  accounts: "count",
};

let bookMoment = null;

function figureOf(book, path) {
  return path.split(".").reduce((value, part) => (value == null ? undefined : value[part]), book);
}

function showBook(book) {
  for (const element of document.querySelectorAll("#book-figures [data-figure]")) {
    const path = element.dataset.figure;
    const value = figureOf(book, path);
    if (value === undefined) continue;
    setFigure(element, value, FIGURE_KINDS[path] || "count");
  }
  document.getElementById("book-figures").dataset.events = String(book.events);
  const meta = [`${book.events} event${book.events === 1 ? "" : "s"} applied`];
  if (book.liquidation_prices_at !== undefined && book.liquidation_prices_at !== null) {
    meta.push(`liquidation prices as of event ${book.liquidation_prices_at}`);
  }
  document.getElementById("book-meta").textContent = meta.join(" · ");
  // the map follows the book: a new event, or the liquidation prices computed again after one
  const moment = `${book.events}/${book.liquidation_prices_at}`;
  if (bookMoment !== null && moment !== bookMoment) refreshMap();
  bookMoment = moment;
}

// ------------------------------------------------------------------ accounts nearest to liquidation

const nearest = new SortableTable(
  document.getElementById("nearest"),
  [
    { key: "id", label: "Account", kind: "text", href: (a) => `/accounts/${encodeURIComponent(a.id)}` },
    {
      key: "margin_ratio",
      label: "Margin ratio",
      kind: "ratio",
      // equity at or below zero with margin owed has no ratio, and is the nearest of all
      order: (a) => (a.margin_ratio === null ? (Number(a.maintenance_margin) > 0 ? Infinity : 0) : Number(a.margin_ratio)),
      classOf: (a) => (a.liquidatable ? "danger" : null),
    },
    { key: "equity", label: "Equity", kind: "money" },
    { key: "maintenance_margin", label: "MM", kind: "money" },
    { key: "initial_margin", label: "IM", kind: "money" },
    { key: "free_collateral", label: "Free collateral", kind: "money" },
    {
      key: "standing", label: "Standing", kind: "text",
      value: (a) => [a.liquidatable ? "liquidatable" : "", a.frozen ? "frozen" : ""].filter(Boolean).join(", ") || "ok",
      classOf: (a) => (a.liquidatable || a.frozen ? "danger" : null),
    },
  ],
  { sortKey: "margin_ratio", descending: true, rowKey: (a) => a.id, caption: "Accounts nearest to liquidation" },
);

async function loadNearest() {
  try {
    const page = await api("/v1/accounts?sort=margin_ratio&order=desc&limit=50");
    nearest.render(page.accounts);
    document.getElementById("nearest-meta").textContent = `${page.accounts.length} of ${page.total} accounts`;
  } catch (error) {
    document.getElementById("nearest-meta").textContent = explain(error);
  }
}

// ------------------------------------------------------------------ the liquidation map

const picker = document.getElementById("instrument");

// The instruments are the oracle's (in the book's order); the first is shown until another is picked.
onOracle((oracle) => {
  const known = new Set([...picker.options].map((o) => o.value));
  const added = (oracle.symbols || []).filter((s) => s.kind === "instrument" && !known.has(s.symbol));
  for (const symbol of added) picker.append(new Option(symbol.symbol, symbol.symbol));
  if (added.length && known.size === 0) loadMap();
});

function mapFigure(map) {
  const bins = map.bins;
  const centre = bins.map((b) => (Number(b.low) + Number(b.high)) / 2);
  const width = bins.map((b) => Number(b.high) - Number(b.low));
  const numbers = (field) => bins.map((b) => (b[field] === null || b[field] === undefined ? null : Number(b[field])));
  const positive = (field) => numbers(field).map((x) => (x > 0 ? x : null)); // a log axis shows no zero
  const quote = map.quote;
  const range = (b) => `${shown(b.low, "price")}–${shown(b.high, "price")}`;
  const traces = [
    {
      type: "bar", name: "Longs liquidated", x: centre, y: numbers("long_notional"), width,
      marker: { color: "rgba(192, 57, 43, 0.75)" }, customdata: bins.map(range),
      hovertemplate: `%{customdata}: %{y:,.0f} ${quote}<extra>longs</extra>`,
    },
    {
      type: "bar", name: "Shorts liquidated", x: centre, y: numbers("short_notional"), width,
      marker: { color: "rgba(31, 119, 180, 0.75)" }, customdata: bins.map(range),
      hovertemplate: `%{customdata}: %{y:,.0f} ${quote}<extra>shorts</extra>`,
    },
    {
      type: "scatter", mode: "lines", name: "Longs, cumulative from the mark", x: centre, y: positive("long_cumulative"),
      yaxis: "y2", line: { color: "#922b21", width: 2 },
    },
    {
      type: "scatter", mode: "lines", name: "Shorts, cumulative from the mark", x: centre,
      y: positive("short_cumulative"), yaxis: "y2", line: { color: "#1a5276", width: 2 },
    },
  ];
  if (bins.some((b) => b.depth !== null && b.depth !== undefined)) {
    traces.push({
      type: "scatter", mode: "lines", name: "Depth", x: centre, y: positive("depth"), yaxis: "y2",
      line: { color: "#7f8c8d", width: 2, dash: "dot" }, connectgaps: false,
    });
  }
  const mark = Number(map.mark);
  const layout = chartLayout({
    barmode: "overlay",
    bargap: 0,
    xaxis: { title: { text: `Price (${quote} per unit of ${map.instrument})` }, tickformat: ",~f" },
    yaxis: { title: { text: `Notional per bin (${quote})` }, tickformat: ".3~s", rangemode: "tozero" },
    // log scale: the depth a liquidity model offers grows far faster away from the mark than the notional
    // liquidated there; on one log axis both read, and where they cross
    yaxis2: {
      title: { text: `Cumulative, depth (${quote}, log)` }, overlaying: "y", side: "right", type: "log",
      dtick: 1, exponentformat: "SI", showgrid: false,
    },
    shapes: [{ type: "line", x0: mark, x1: mark, yref: "paper", y0: 0, y1: 1, line: { color: "#111", width: 2, dash: "dash" } }],
    annotations: [
      { x: mark, y: 1, yref: "paper", yanchor: "bottom", text: `mark ${shown(map.mark, "price")}`, showarrow: false },
    ],
  });  // prettier-ignore
  return { traces, layout };
}

async function loadMap() {
  const instrument = picker.value;
  if (!instrument) return;
  const chart = document.getElementById("map");
  try {
    const map = await api(`/v1/liquidation-map/${encodeURIComponent(instrument)}?bins=60&span=0.2`);
    if (picker.value !== instrument) return;
    const { traces, layout } = mapFigure(map);
    await window.Plotly.react(chart, traces, layout, CHART_CONFIG);
    chart.dataset.instrument = map.instrument;
    chart.dataset.mark = map.mark;
    chart.dataset.computedAt = String(map.computed_at);
    const meta = `mark ${shown(map.mark, "price")} ${map.quote}`;
    document.getElementById("map-meta").textContent = map.computed_at == null ? meta : `${meta} · computed at ${map.computed_at}`;
    const missing = map.positions_without_price;
    document.getElementById("map-note").textContent =
      `Each bar: the notional (${map.quote}) of the positions whose liquidation price falls in that price bin; ` +
      "longs are liquidated as the price falls to them, shorts as it rises." +
      (missing ? ` ${missing} position(s) have no liquidation price (never liquidated by this price alone).` : "");
  } catch (error) {
    document.getElementById("map-meta").textContent = explain(error);
  }
}

const refreshMap = throttled(1, loadMap);
picker.addEventListener("change", () => loadMap());

// ------------------------------------------------------------------ start

api("/v1/book").then(showBook, (error) => {
  document.getElementById("book-meta").textContent = explain(error);
});
follow(["book"], (message) => {
  if (message.event === "book") showBook(message);
});
every(3, loadNearest);
