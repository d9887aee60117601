// The stress view: run a library scenario (or an uploaded YAML one) with a seed, follow its progress by
// polling GET /v1/stress/{id}, and show its report when it is done.

import { api, explain, setFigure } from "./common.js";

const FINISHED = new Set(["done", "failed", "error", "cancelled"]);
const POLL_S = 0.5;

const form = document.getElementById("stress-form");
const select = document.getElementById("scenario");
const progress = document.getElementById("progress");
const state = document.getElementById("run-state");
const runButton = document.getElementById("run");
const upload = document.getElementById("scenario-file");

// one scenario at a time: picking from the library sets an uploaded file aside
select.addEventListener("change", () => {
  upload.value = "";
});

document.getElementById("stream-state").textContent = "polling";

async function loadScenarios() {
  try {
    const scenarios = await api("/v1/stress/scenarios");
    select.replaceChildren(...scenarios.map((s) => new Option(s.title ? `${s.name} — ${s.title}` : s.name, s.name)));
  } catch (error) {
    state.textContent = `Library scenarios unavailable: ${explain(error)}`;
  }
}

function showRun(run) {
  const total = Number(run.total) || 0;
  progress.max = total > 0 ? total : 1;
  progress.value = total > 0 ? Number(run.completed) || 0 : 0;
  progress.dataset.state = run.state;
  const counted = total > 0 ? ` — ${run.completed} of ${total}` : "";
  state.textContent = `Run ${run.id} (${run.scenario}): ${run.state}${counted}${run.error ? ` — ${run.error}` : ""}`;
  state.dataset.state = run.state;
}

const TOTALS = [
  ["liquidations", "Liquidations", "count"],
  ["liquidated_notional", "Liquidated notional", "money"],
  ["slippage", "Slippage", "money"],
  ["adl_events", "ADL events", "count"],
  ["bad_debt", "Bad debt", "money"],
  ["insurance_fund_start", "Insurance fund, start", "money"],
  ["insurance_fund_end", "Insurance fund, end", "money"],
];

/** Each run's totals (all cross, all isolated) side by side: GET /v1/stress/{id}/summary. */
async function showTotals(id) {
  const box = document.getElementById("totals");
  const table = document.getElementById("summary");
  try {
    const summary = await api(`/v1/stress/${encodeURIComponent(id)}/summary`);
    const labels = Object.keys(summary.runs);
    table.replaceChildren();
    const head = table.createTHead().insertRow();
    for (const text of ["", ...labels]) {
      const cell = document.createElement("th");
      cell.scope = "col";
      if (text) cell.className = "num";
      cell.textContent = text;
      head.append(cell);
    }
    const body = table.createTBody();
    for (const [field, label, kind] of TOTALS) {
      const row = body.insertRow();
      const name = document.createElement("th");
      name.scope = "row";
      name.textContent = label;
      row.append(name);
      for (const run of labels) {
        const cell = row.insertCell();
        cell.className = "num";
        cell.dataset.run = run;
        cell.dataset.key = field;
        setFigure(cell, summary.runs[run][field], kind);
      }
    }
    box.hidden = false;
  } catch (error) {
    box.hidden = true;
  }
}

async function showReport(id) {
  const frame = document.getElementById("report");
  const link = document.getElementById("report-link");
  const note = document.getElementById("report-note");
  try {
    const report = await api(`/v1/stress/${encodeURIComponent(id)}/report`);
    frame.srcdoc = report;
    frame.hidden = false;
    if (link.href.startsWith("blob:")) URL.revokeObjectURL(link.href);
    link.href = URL.createObjectURL(new Blob([report], { type: "text/html" }));
    link.download = `stress-${id}.html`;
    link.hidden = false;
    note.textContent = `The report of run ${id}.`;
  } catch (error) {
    note.textContent = `The report could not be read: ${explain(error)}`;
  }
}

async function follow(run) {
  showRun(run);
  let current = run;
  while (!FINISHED.has(current.state)) {
    await new Promise((resolve) => window.setTimeout(resolve, POLL_S * 1000));
    current = await api(`/v1/stress/${encodeURIComponent(run.id)}`);
    showRun(current);
  }
  if (current.state === "done") await Promise.all([showTotals(current.id), showReport(current.id)]);
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const file = upload.files[0];
  const body = { scenario: select.value, seed: Number(form.elements.seed.value) };
  if (file) {
    body.yaml = await file.text();
    body.scenario = "";  // the uploaded scenario's own name stands
  }
  runButton.disabled = true;
  document.getElementById("totals").hidden = true;
  try {
    await follow(await api("/v1/stress", { method: "POST", body }));
  } catch (error) {
    state.textContent = `Refused: ${explain(error)}`;
    state.dataset.state = "refused";
  } finally {
    runButton.disabled = false;
  }
});

loadScenarios();
