// The oracle view: every symbol's status, price and reason, and each of its sources' last report (from
// /v1/oracle, which the banner polls every 2 seconds on every page).

import { levelOf, onOracle, setFigure } from "./common.js";

const HEADERS = [
  "Symbol", "Kind", "Status", "Price", "Engine price", "Reason", "Source", "Source price", "Reported at t (s)",
  "Age (s)", "Confidence",
];  // prettier-ignore

function cell(row, value, kind, span = 1) {
  const element = row.insertCell();
  if (span > 1) element.rowSpan = span;
  if (kind !== "text") element.className = "num";
  setFigure(element, value, kind);
  return element;
}

function showOracle(oracle) {
  const table = document.getElementById("symbols");
  table.replaceChildren();
  const caption = document.createElement("caption");
  caption.className = "visually-hidden";
  caption.textContent = "Oracle symbols and their sources";
  table.append(caption);
  const head = table.createTHead().insertRow();
  for (const text of HEADERS) {
    const th = document.createElement("th");
    th.scope = "col";
    th.textContent = text;
    head.append(th);
  }
  const body = table.createTBody();
  const rank = { invalid: 0, degraded: 1 };
  const ordered = [...oracle.symbols].sort((a, b) => (rank[levelOf(a)] ?? 2) - (rank[levelOf(b)] ?? 2));
  for (const symbol of ordered) {
    const level = levelOf(symbol);
    const sources = symbol.sources && symbol.sources.length ? symbol.sources : [null];
    sources.forEach((source, index) => {
      const row = body.insertRow();
      row.dataset.symbol = symbol.symbol;
      row.className = `status-${level}`;
      if (index === 0) {
        const span = sources.length;
        const name = document.createElement("th");
        name.scope = "row";
        name.rowSpan = span;
        name.textContent = symbol.symbol;
        row.append(name);
        cell(row, symbol.kind, "text", span);
        const status = cell(row, symbol.status, "text", span);
        status.classList.add("status", level);
        status.dataset.key = "status";
        // an invalid price stands behind nothing: its last price is shown, marked as such
        const shownPrice = symbol.price ?? symbol.last_price;
        const price = cell(row, shownPrice, "price", span);
        price.dataset.key = "price";
        if (symbol.price === null && symbol.last_price !== undefined) {
          price.classList.add("stale-price");
          price.title = `last price ${symbol.last_price}: the oracle stands behind no price now`;
        }
        cell(row, symbol.engine_price, "price", span);
        cell(row, symbol.reason || "", "text", span).classList.add("reason");
      }
      if (source === null) {
        const none = row.insertCell();
        none.colSpan = 5;
        none.className = "empty";
        none.textContent = "no source has reported: the document's price";
        return;
      }
      row.dataset.source = source.source;
      cell(row, source.source, "text");
      cell(row, source.price, "price");
      cell(row, source.t, "amount");
      cell(row, source.age_s, "amount");
      cell(row, source.confidence, "amount");
    });
  }
  const bad = oracle.symbols.filter((s) => levelOf(s) !== "valid").length;
  document.getElementById("oracle-meta").textContent =
    `clock t = ${oracle.clock} s · ${oracle.symbols.length} symbols · ${bad ? `${bad} not valid` : "all valid"}`;
  document.getElementById("stream-state").textContent = "polling every 2 s";
}

onOracle(showOracle);
