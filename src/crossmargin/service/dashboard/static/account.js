// The account view: balances, positions, cross and isolated pools side by side, the margin-ratio history and
// the what-if questions; live from the account's topic (its figures as they move, then the exact view again).

import {
  ApiError,
  CHART_CONFIG,
  SortableTable,
  accountId,
  api,
  chartLayout,
  explain,
  follow,
  setFigure,
  shown,
  throttled,
} from "./common.js";

const path = `/v1/accounts/${encodeURIComponent(accountId)}`;
const CARD_KINDS = {
  equity: "money",
  initial_margin: "money",
  maintenance_margin: "money",
  free_collateral: "money",
  margin_ratio: "ratio",
  collateral_value: "money",
  unrealized_pnl: "money",
  isolated_initial_margin: "money",
};
const POOL_FIELDS = ["isolated_margin", "isolated_margin_value", "equity", "free_collateral", "margin_ratio", "liquidatable"];
// an isolated position's own pool figures show in the pools table, not as columns of the positions

/** A column for a field the page does not know by name (a newer server's): shown whole, sorted as it reads. */
function columnFor(field, sample) {
  const label = field.replaceAll("_", " ");
  if (typeof sample === "boolean") return { key: field, label, kind: "bool" };
  if (typeof sample === "string" && /^-?\d+(\.\d+)?$/.test(sample)) return { key: field, label, kind: "amount" };
  return { key: field, label, kind: "text", value: (row) => (typeof row[field] === "object" ? JSON.stringify(row[field]) : row[field]) };
}

/** `known` columns, then one for every other field the rows hold (except `skipped`). */
function columnsOf(rows, known, skipped = []) {
  const named = new Set([...known.map((c) => c.key), ...skipped]);
  const extra = [];
  for (const row of rows) {
    for (const [field, value] of Object.entries(row)) {
      if (!named.has(field) && value !== null) {
        named.add(field);
        extra.push(columnFor(field, value));
      }
    }
  }
  return [...known.filter((c) => rows.some((row) => c.key in row)), ...extra];
}

const BALANCE_COLUMNS = [
  { key: "asset", label: "Asset", kind: "text" },
  { key: "amount", label: "Amount", kind: "amount" },
  { key: "price", label: "Price", kind: "price" },
  { key: "weight", label: "Weight", kind: "amount" },
  { key: "value", label: "Value", kind: "money" },
  { key: "initial_weight", label: "Initial weight", kind: "amount" },
  { key: "initial_value", label: "Initial value", kind: "money" },
];
const POSITION_COLUMNS = [
  { key: "instrument", label: "Instrument", kind: "text" },
  { key: "size", label: "Size", kind: "size" },
  { key: "entry_price", label: "Entry", kind: "price" },
  { key: "mark", label: "Mark", kind: "price" },
  { key: "notional", label: "Notional", kind: "money" },
  { key: "unrealized_pnl", label: "uPnL", kind: "money" },
  { key: "initial_margin", label: "IM", kind: "money" },
  { key: "maintenance_margin", label: "MM", kind: "money" },
  { key: "liquidation_price", label: "Liquidation price", kind: "price" },
  { key: "isolated", label: "Isolated", kind: "bool" },
];

let balances = null;
let positions = null;
let balanceShape = "";
let positionShape = "";

function showTables(view) {
  const balanceColumns = columnsOf(view.collateral, BALANCE_COLUMNS);
  const shapeOfBalances = balanceColumns.map((c) => c.key).join();
  if (shapeOfBalances !== balanceShape) {
    balances = new SortableTable(document.getElementById("balances"), balanceColumns, {
      sortKey: "value", rowKey: (line) => line.asset, caption: "Balances",
    });  // prettier-ignore
    balanceShape = shapeOfBalances;
  }
  balances.render(view.collateral);
  const positionColumns = columnsOf(view.positions, POSITION_COLUMNS, [...POOL_FIELDS, "notional_settle"]);
  const shapeOfPositions = positionColumns.map((c) => c.key).join();
  if (shapeOfPositions !== positionShape) {
    positions = new SortableTable(document.getElementById("positions"), positionColumns, {
      sortKey: "notional", rowKey: (position) => position.instrument, caption: "Positions",
    });  // prettier-ignore
    positionShape = shapeOfPositions;
  }
  positions.render(view.positions);
}

/** A table of `rows` ([field, label, kind]) with one column for each of `columns` ({name, figures}). */
function sideBySide(table, corner, columns, rows) {
  table.replaceChildren();
  const head = table.createTHead().insertRow();
  for (const text of [corner, ...columns.map((c) => c.name)]) {
    const cell = document.createElement("th");
    cell.scope = "col";
    if (text !== corner) cell.className = "num";
    cell.textContent = text;
    head.append(cell);
  }
  const body = table.createTBody();
  for (const [field, label, kind] of rows) {
    const line = body.insertRow();
    const name = document.createElement("th");
    name.scope = "row";
    name.textContent = label;
    line.append(name);
    for (const column of columns) {
      const cell = line.insertCell();
      cell.className = "num";
      cell.dataset.pool = column.name;
      cell.dataset.key = field;
      setFigure(cell, column.figures[field], kind);
    }
  }
}

/** All cross beside all isolated (the API's `modes`): margins, collateral needed, and per instrument its
 * isolated margin and liquidation price. */
function showComparison(modes) {
  const table = document.getElementById("modes");
  if (!modes) {
    table.replaceChildren();
    return;
  }
  const instruments = Object.keys({ ...modes.cross.liquidation_prices, ...modes.isolated.liquidation_prices });
  const flat = (mode) => {
    const figures = {
      initial_margin: mode.initial_margin, maintenance_margin: mode.maintenance_margin,
      collateral_required: mode.collateral_required,
    };  // prettier-ignore
    for (const name of instruments) {
      figures[`isolated_margin:${name}`] = (mode.isolated_margins || {})[name] ?? null;
      figures[`liquidation_price:${name}`] = (mode.liquidation_prices || {})[name] ?? null;
    }
    return figures;
  };
  const rows = [
    ["initial_margin", "Initial margin", "money"],
    ["maintenance_margin", "Maintenance margin", "money"],
    ["collateral_required", "Collateral required", "money"],
    ...instruments.flatMap((name) => [
      [`isolated_margin:${name}`, `${name}: isolated margin`, "amount"],
      [`liquidation_price:${name}`, `${name}: liquidation price`, "price"],
    ]),
  ];
  sideBySide(table, "What if", [{ name: "All cross", figures: flat(modes.cross) }, { name: "All isolated", figures: flat(modes.isolated) }], rows);
}

/** The cross pool beside each isolated position's pool: one column a pool, one row a figure. */
function showPools(view) {
  const pools = [
    {
      name: "Cross", equity: view.equity, initial_margin: view.initial_margin, maintenance_margin: view.maintenance_margin,
      free_collateral: view.free_collateral, margin_ratio: view.margin_ratio, liquidatable: view.liquidatable,
      collateral: view.collateral_value,
    },
    ...view.positions.filter((p) => p.isolated).map((p) => ({
      name: `Isolated ${p.instrument}`, equity: p.equity, initial_margin: p.initial_margin,
      maintenance_margin: p.maintenance_margin, free_collateral: p.free_collateral, margin_ratio: p.margin_ratio,
      liquidatable: p.liquidatable, collateral: p.isolated_margin_value,
    })),
  ];  // prettier-ignore
  const rows = [
    ["collateral", "Collateral (margin) value", "money"],
    ["equity", "Equity", "money"],
    ["initial_margin", "Initial margin", "money"],
    ["maintenance_margin", "Maintenance margin", "money"],
    ["free_collateral", "Free collateral", "money"],
    ["margin_ratio", "Margin ratio", "ratio"],
    ["liquidatable", "Liquidatable", "bool"],
  ];
  sideBySide(document.getElementById("pools"), "Pool", pools.map((pool) => ({ name: pool.name, figures: pool })), rows);
}

function showCards(figures, basis) {
  for (const element of document.querySelectorAll("#account-figures [data-figure]")) {
    const field = element.dataset.figure;
    if (field in figures) setFigure(element, figures[field], CARD_KINDS[field]);
  }
  document.querySelector("[data-basis]").textContent = basis === "mirror" ? "≈ mirror" : "exact";
  const standing = document.getElementById("account-standing");
  const labels = [];
  if (figures.liquidatable) labels.push("liquidatable");
  if (figures.frozen ?? (latest && latest.frozen)) labels.push("frozen");
  standing.textContent = labels.join(" · ");
  standing.className = `standing${labels.length ? " danger" : ""}`;
}

// ------------------------------------------------------------------ liquidation odds

/** A duration in seconds as its largest fitting unit (s, min, h, d), one decimal beyond a minute. */
function duration(seconds) {
  const s = Number(seconds);
  if (s < 120) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  if (s < 7200) return `${(s / 60).toFixed(1)} min`;
  if (s < 172800) return `${(s / 3600).toFixed(1)} h`;
  return `${(s / 86400).toFixed(1)} d`;
}

/** A horizon in seconds in its largest whole unit (1 d, 4 h, 30 min), else as a duration. */
function horizonText(seconds) {
  for (const [unit, size] of [["d", 86400], ["h", 3600], ["min", 60]]) {
    if (seconds >= size && seconds % size === 0) return `${seconds / size} ${unit}`;
  }
  return duration(seconds);
}

/** The odds cards from the detail's `liquidation_odds`: the probability within the horizon and the median time
 * of the likeliest pool ("never" when it is more likely never liquidated); "unavailable", with the reason as
 * its title, when an asset has no volatility. */
function showOdds(odds) {
  const probability = document.querySelector('[data-odds="probability"]');
  const median = document.querySelector('[data-odds="median"]');
  if (!odds) return;
  document.querySelector('[data-odds="horizon"]').textContent = horizonText(Number(odds.horizon_s));
  if (!odds.available) {
    for (const element of [probability, median]) {
      element.textContent = "unavailable";
      element.title = odds.reason;
      element.dataset.value = "";
    }
    return;
  }
  setFigure(probability, odds.probability, "ratio");
  const sources = Object.entries(odds.volatilities).map(([asset, v]) => `${asset} ${v.volatility} (${v.source})`);
  probability.title = `${odds.probability}; volatilities: ${sources.join(", ")}`;
  median.textContent = odds.median_time_s === null ? "never" : duration(odds.median_time_s);
  median.dataset.value = odds.median_time_s ?? "";
  median.title = odds.median_time_s === null ? "more likely never than reached" : `${odds.median_time_s} s`;
}

let knownAssets = "";
let knownInstruments = "";

function fillWhatIf(view) {
  const assets = view.collateral.map((line) => line.asset);
  if (assets.join() !== knownAssets) {
    const select = document.getElementById("withdraw-asset");
    const chosen = select.value;
    select.replaceChildren(...assets.map((asset) => new Option(asset, asset)));
    if (assets.includes(chosen)) select.value = chosen;
    knownAssets = assets.join();
  }
  const instruments = view.positions.map((position) => position.instrument);
  if (instruments.join() !== knownInstruments) {
    document.getElementById("instruments").replaceChildren(...instruments.map((name) => new Option(name, name)));
    knownInstruments = instruments.join();
  }
}

let latest = null;

async function loadView() {
  try {
    const view = await api(`${path}?detail=true`);
    latest = view;
    showCards(view, "exact");
    showTables(view);
    showPools(view);
    showComparison(view.modes);
    showOdds(view.liquidation_odds);
    fillWhatIf(view);
    const statuses = Object.entries(view.statuses || {}).filter(([, status]) => status !== "valid");
    document.getElementById("account-figures").dataset.loaded = "true";
    if (statuses.length) {
      document.getElementById("account-standing").title = statuses.map(([s, status]) => `${s}: ${status}`).join(", ");
    }
  } catch (error) {
    document.getElementById("account-standing").textContent = explain(error);
  }
}

// ------------------------------------------------------------------ history

async function loadHistory() {
  const note = document.getElementById("history-note");
  try {
    const history = await api(`${path}/history`);
    const points = history.points;
    const t = points.map((p) => Number(p.t));
    const ratio = points.map((p) => (p.margin_ratio === null ? null : Number(p.margin_ratio) * 100));
    const traces = [
      {
        type: "scatter", mode: points.length > 1 ? "lines" : "markers", name: "Margin ratio", x: t, y: ratio,
        line: { color: "#1a5276", width: 2, shape: "hv" }, hovertemplate: "t %{x} s: %{y:.2f} %<extra></extra>",
      },
    ];  // prettier-ignore
    const layout = chartLayout({
      showlegend: false,
      xaxis: { title: { text: "Feed time t (seconds)" } },
      yaxis: { title: { text: "Margin ratio (MM ÷ equity, %)" }, rangemode: "tozero", ticksuffix: " %" },
      shapes: [{ type: "line", xref: "paper", x0: 0, x1: 1, y0: 100, y1: 100, line: { color: "#c0392b", dash: "dash" } }],
      annotations: [{ xref: "paper", x: 0, y: 100, yanchor: "bottom", xanchor: "left", text: "liquidation (100 %)", showarrow: false }],
    });  // prettier-ignore
    await window.Plotly.react(document.getElementById("history"), traces, layout, CHART_CONFIG);
    note.textContent =
      `${points.length} point${points.length === 1 ? "" : "s"} since the service started, from the risk book's ` +
      "mirror: after each batch of events that changed the account, and at most once a second of feed time.";
  } catch (error) {
    note.textContent = explain(error);
  }
}

// ------------------------------------------------------------------ what-if

function answerError(output, form, error) {
  output.className = "answer refused";
  output.textContent = explain(error);
  if (error instanceof ApiError && error.field) {
    const input = form.querySelector(`[name="${CSS.escape(error.field)}"]`);
    if (input) input.setAttribute("aria-invalid", "true");
  }
}

document.getElementById("withdrawal-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const output = document.getElementById("withdrawal-answer");
  const asset = form.elements.asset.value;
  form.querySelectorAll("[aria-invalid]").forEach((input) => input.removeAttribute("aria-invalid"));
  try {
    const answer = await api(`${path}/max-withdrawal`, { method: "POST", body: { asset } });
    output.className = "answer";
    output.replaceChildren();
    const amount = document.createElement("strong");
    setFigure(amount, answer.max_withdrawable, "amount");
    const held = document.createElement("span");
    setFigure(held, answer.held, "amount");
    output.append("At most ", amount, ` ${answer.asset} may leave now, of `, held, " held.");
  } catch (error) {
    answerError(output, form, error);
  }
});

document.getElementById("order-instrument").addEventListener("change", (event) => {
  const position = latest && latest.positions.find((p) => p.instrument === event.target.value);
  const price = document.getElementById("order-price");
  if (position && !price.value) price.value = position.mark;
});

document.getElementById("order-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const output = document.getElementById("order-answer");
  form.querySelectorAll("[aria-invalid]").forEach((input) => input.removeAttribute("aria-invalid"));
  const body = {
    instrument: form.elements.instrument.value.trim(),
    size: form.elements.size.value.trim(),
    price: form.elements.price.value.trim(),
  };
  try {
    const answer = await api(`${path}/order-check`, { method: "POST", body });
    output.className = `answer ${answer.passes ? "passes" : "refused"}`;
    output.replaceChildren();
    const verdict = document.createElement("strong");
    verdict.textContent = answer.passes ? "Passes" : "Fails";
    const lines = [
      ["free collateral before", answer.free_collateral_before, "money"],
      ["after", answer.free_collateral_after, "money"],
      ["initial margin after", answer.initial_margin_after, "money"],
      ["largest size that passes", answer.max_size, "size"],
    ];
    const list = document.createElement("dl");
    list.className = "inline";
    for (const [label, value, kind] of lines) {
      const term = document.createElement("dt");
      term.textContent = label;
      const figure = document.createElement("dd");
      setFigure(figure, value, kind);
      list.append(term, figure);
    }
    output.append(verdict, `: ${answer.reason}.`, list);
  } catch (error) {
    answerError(output, form, error);
  }
});

// ------------------------------------------------------------------ live

const refreshView = throttled(1, loadView);
const refreshHistory = throttled(2, loadHistory);

function logEvent(message) {
  const list = document.getElementById("events");
  const item = document.createElement("li");
  const details = [];
  for (const field of ["equity", "maintenance_margin", "instrument", "size", "fill_price", "amount"]) {
    if (message[field] !== undefined && message[field] !== null) {
      const kind = field === "size" || field === "amount" ? "size" : field === "fill_price" ? "price" : "money";
      details.push(`${field.replaceAll("_", " ")} ${shown(message[field], kind)}`);
    }
  }
  item.textContent = `t ${message.t}: ${message.event}${message.basis ? ` (${message.basis})` : ""}${details.length ? ` — ${details.join(", ")}` : ""}`;
  list.prepend(item);
  while (list.children.length > 30) list.lastElementChild.remove();
}

follow([`account:${accountId}`], (message) => {
  if (message.event === "subscribed") return;
  logEvent(message);
  if (message.event === "figures") showCards(message, message.basis);
  refreshView();
  refreshHistory();
});
loadView();
loadHistory();
