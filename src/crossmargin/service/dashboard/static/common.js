// What every page shares: the key, the API and the stream, the oracle banner, number formatting and
// sortable tables. Every number the API sends is a decimal string; it is shown rounded (never through a
// float) and kept whole in the cell's data-value and title.

const KEY_ITEM = "crossmargin.key";

/** The key: taken from the address bar (then removed from it) into this tab's sessionStorage. */
function takeKey() {
  const url = new URL(window.location.href);
  const given = url.searchParams.get("key");
  if (given) {
    sessionStorage.setItem(KEY_ITEM, given);
    url.searchParams.delete("key");
    history.replaceState(history.state, "", url.pathname + url.search + url.hash);
  }
  return sessionStorage.getItem(KEY_ITEM);
}

export const key = takeKey();
export const accountId = document.body.dataset.account || null;

// A link marked data-keyed opens its page with the key (the next page takes it out of the address bar).
document.addEventListener("click", (event) => {
  const link = event.target instanceof Element ? event.target.closest("a[data-keyed]") : null;
  if (!link || !key || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
  event.preventDefault();
  const url = new URL(link.href);
  url.searchParams.set("key", key);
  window.location.assign(url.href);
});

export class ApiError extends Error {
  constructor(status, field, message) {
    super(message);
    this.status = status;
    this.field = field;
  }
}

/** A call to the API with the key: the JSON (or text) answer, or an ApiError naming the field. */
export async function api(path, { method = "GET", body } = {}) {
  const headers = { Authorization: `Bearer ${key}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const answer = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: "no-store",
  });
  const json = (answer.headers.get("content-type") || "").includes("json");
  const payload = json ? await answer.json() : await answer.text();
  if (!answer.ok) {
    const error = (json && payload && payload.error) || {};
    throw new ApiError(answer.status, error.field || "", error.message || `${answer.status} ${answer.statusText}`);
  }
  return payload;
}

/** Shows (or clears, with null) a page-wide error under the header. */
export function pageError(text) {
  const box = document.getElementById("page-error");
  box.textContent = text || "";
  box.hidden = !text;
}

/** What a failed call says to a person; a refused key is said once, page-wide. */
export function explain(error) {
  if (error instanceof ApiError) {
    if (error.status === 401) pageError("The key was refused (unknown or revoked): reopen the page with ?key=<key>.");
    return error.field ? `${error.field}: ${error.message}` : error.message;
  }
  return String(error && error.message ? error.message : error);
}

function showStreamState(text, live) {
  const state = document.getElementById("stream-state");
  state.textContent = text;
  state.classList.toggle("live", live);
}

/**
 * Follows `topics` on the stream (?key= on the URL), handing each message to `onMessage`; reconnects with
 * a growing pause when the socket drops, and stops on a refusal (4401, 4403, 4404, 4422).
 */
export function follow(topics, onMessage) {
  let pause = 500;
  let refusal = null;
  const connect = () => {
    const url = new URL("/v1/stream", window.location.href);
    url.protocol = window.location.protocol === "https:" ? "wss:" : "ws:";
    for (const topic of topics) url.searchParams.append("topic", topic);
    url.searchParams.set("key", key || "");
    const socket = new WebSocket(url.href);
    socket.addEventListener("open", () => {
      pause = 500;
      showStreamState("live", true);
    });
    socket.addEventListener("message", (event) => {
      const message = JSON.parse(event.data);
      if (message.error) refusal = message.error;
      else onMessage(message);
    });
    socket.addEventListener("close", (event) => {
      if (event.code >= 4400 && event.code < 4500 && event.code !== 4429) {
        showStreamState("stream refused", false);
        pageError(`The stream refused the subscription: ${refusal ? refusal.message : `code ${event.code}`}`);
        return;
      }
      showStreamState("reconnecting…", false);
      window.setTimeout(connect, pause);
      pause = Math.min(pause * 2, 10000);
    });
  };
  connect();
}

/** Calls `task` every `seconds` (first at once), never two at a time. */
export function every(seconds, task) {
  const run = async () => {
    try {
      await task();
    } finally {
      window.setTimeout(run, seconds * 1000);
    }
  };
  run();
}

/** Calls `task` at most once every `seconds`: a request while it ran or too soon runs once afterwards. */
export function throttled(seconds, task) {
  let last = 0;
  let running = false;
  let waiting = false;
  const fire = async () => {
    const wait = last + seconds * 1000 - Date.now();
    if (running || wait > 0) {
      if (!waiting) {
        waiting = true;
        window.setTimeout(() => {
          waiting = false;
          fire();
        }, Math.max(wait, 50));
      }
      return;
    }
    running = true;
    last = Date.now();
    try {
      await task();
    } finally {
      running = false;
    }
  };
  return fire;
}

// ------------------------------------------------------------------ the oracle banner

const oracleListeners = [];

/** Calls `listener` with every /v1/oracle answer (the banner polls it every 2 s on every page). */
export function onOracle(listener) {
  oracleListeners.push(listener);
}

/** A symbol's status on the banner's three levels (valid, degraded, invalid). */
export function levelOf(symbol) {
  return symbol.level || symbol.status;
}

function showBanner(oracle) {
  const banner = document.getElementById("oracle-banner");
  const bad = (oracle.symbols || []).filter((s) => levelOf(s) !== "valid");
  banner.replaceChildren();
  if (!oracle.any_not_valid || bad.length === 0) {
    banner.hidden = true;
    return;
  }
  const title = document.createElement("strong");
  title.textContent = "Oracle: prices not valid — ";
  banner.append(title);
  bad.forEach((symbol, index) => {
    const item = document.createElement("span");
    item.className = `symbol-status ${levelOf(symbol)}`;
    item.dataset.symbol = symbol.symbol;
    item.textContent = `${symbol.symbol} ${symbol.status}`;
    if (symbol.reason) item.title = symbol.reason;
    banner.append(item);
    if (index < bad.length - 1) banner.append(", ");
  });
  banner.hidden = false;
}

every(2, async () => {
  try {
    const oracle = await api("/v1/oracle");
    showBanner(oracle);
    for (const listener of oracleListeners) listener(oracle);
  } catch (error) {
    explain(error);
  }
});

// ------------------------------------------------------------------ numbers

const DECIMAL = /^(-?)(\d+)(?:\.(\d+))?$/;

function grouped(digits) {
  return digits.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/** The decimal string `text` rounded half away from zero to `places` decimals, thousands grouped. */
export function roundDecimal(text, places) {
  const parts = DECIMAL.exec(String(text));
  if (!parts) return String(text);
  const [, sign, whole, fraction = ""] = parts;
  const kept = (fraction + "0".repeat(places + 1)).slice(0, places + 1);
  let scaled = BigInt(whole + kept.slice(0, places));
  if (kept[places] >= "5") scaled += 1n;
  const digits = scaled.toString().padStart(places + 1, "0");
  const integer = digits.slice(0, digits.length - places);
  const decimals = digits.slice(digits.length - places);
  const negative = sign === "-" && scaled !== 0n;
  return (negative ? "-" : "") + grouped(integer) + (places > 0 ? `.${decimals}` : "");
}

/** Decimals that show a figure below 1 with 4 significant digits (2 for a figure of 1 or more; at most 12). */
export function placesFor(text) {
  const parts = DECIMAL.exec(String(text));
  if (!parts || /[1-9]/.test(parts[2])) return 2;
  const fraction = parts[3] || "";
  const zeros = fraction.length - fraction.replace(/^0+/, "").length;
  return fraction.replace(/^0+/, "") === "" ? 2 : Math.min(Math.max(zeros + 4, 2), 12);
}

/** The decimal string `text` times 100 (exactly: the point moves two places). */
export function percentOf(text) {
  const parts = DECIMAL.exec(String(text));
  if (!parts) return String(text);
  const [, sign, whole, fraction = ""] = parts;
  const padded = fraction.padEnd(2, "0");
  const integer = (whole + padded.slice(0, 2)).replace(/^0+(?=\d)/, "");
  const rest = padded.slice(2);
  return sign + integer + (rest ? `.${rest}` : "");
}

const AMOUNT_PLACES = 8;

/** How a figure is shown: `money` (2 decimals), `price` (2, or 4 significant below 1), `ratio` (a percentage
 * with 2 decimals), `amount` / `size` (as given, rounded to 8 decimals if it has more), `count`, `bool`,
 * `text`. */
export function shown(value, kind) {
  if (value === null || value === undefined) return "—";
  if (kind === "bool") return value ? "yes" : "no";
  if (kind === "text" || kind === "count") return String(value);
  if (kind === "ratio") return `${roundDecimal(percentOf(value), 2)} %`;
  if (kind === "money") return roundDecimal(value, 2);
  if (kind === "price") return roundDecimal(value, placesFor(value));
  const parts = DECIMAL.exec(String(value));
  if (!parts) return String(value);
  if (parts[3] && parts[3].length > AMOUNT_PLACES) return roundDecimal(value, AMOUNT_PLACES).replace(/\.?0+$/, "");
  return parts[1] + grouped(parts[2]) + (parts[3] ? `.${parts[3]}` : "");
}

/** Fills `element` with `value` shown as `kind`, the whole value in data-value and title. */
export function setFigure(element, value, kind) {
  const text = shown(value, kind);
  element.textContent = text;
  element.dataset.value = value === null || value === undefined ? "" : String(value);
  element.title = value === null || value === undefined ? "" : String(value);
  element.classList.toggle("negative", typeof value === "string" && value.startsWith("-"));
}

function sortValue(value, kind) {
  if (value === null || value === undefined) return null;
  if (kind === "bool") return value ? 1 : 0;
  if (kind === "text") return String(value);
  return Number(value);
}

// ------------------------------------------------------------------ sortable tables

/**
 * A table over `rows` with `columns` ({key, label, kind, value(row)?, href(row)?, order(row)?, classOf(row)?,
 * sortable?}); each header is a button (focusable; Enter or Space sorts by it, again reverses the order).
 * The sort is kept when the rows are replaced (render).
 */
export class SortableTable {
  constructor(table, columns, { sortKey = null, descending = true, rowKey = null, caption = null } = {}) {
    this.table = table;
    this.columns = columns;
    this.sortKey = sortKey;
    this.descending = descending;
    this.rowKey = rowKey;
    this.rows = [];
    this.table.replaceChildren();
    if (caption) {
      const element = document.createElement("caption");
      element.className = "visually-hidden";
      element.textContent = caption;
      this.table.append(element);
    }
    const head = this.table.createTHead().insertRow();
    this.headers = columns.map((column) => {
      const cell = document.createElement("th");
      cell.scope = "col";
      cell.dataset.key = column.key;
      if (column.kind !== "text" && column.kind !== "bool") cell.className = "num";
      if (column.sortable === false) {
        cell.textContent = column.label;
      } else {
        const button = document.createElement("button");
        button.type = "button";
        button.textContent = column.label;
        button.addEventListener("click", () => this.sortBy(column.key));
        cell.append(button);
      }
      head.append(cell);
      return cell;
    });
    this.body = this.table.createTBody();
  }

  sortBy(columnKey) {
    if (this.sortKey === columnKey) this.descending = !this.descending;
    else {
      this.sortKey = columnKey;
      const column = this.columns.find((c) => c.key === columnKey);
      this.descending = column.kind !== "text";
    }
    this.render(this.rows);
  }

  valueOf(row, column) {
    return column.value ? column.value(row) : row[column.key];
  }

  render(rows) {
    this.rows = rows;
    const column = this.columns.find((c) => c.key === this.sortKey);
    const ordered = [...rows];
    if (column) {
      const sign = this.descending ? -1 : 1;
      ordered.sort((a, b) => {
        const x = column.order ? column.order(a) : sortValue(this.valueOf(a, column), column.kind);
        const y = column.order ? column.order(b) : sortValue(this.valueOf(b, column), column.kind);
        if (x === null || Number.isNaN(x)) return y === null || Number.isNaN(y) ? 0 : 1;
        if (y === null || Number.isNaN(y)) return -1;
        return x < y ? -sign : x > y ? sign : 0;
      });
    }
    for (const [index, header] of this.headers.entries()) {
      const here = this.columns[index].key === this.sortKey;
      if (here) header.setAttribute("aria-sort", this.descending ? "descending" : "ascending");
      else header.removeAttribute("aria-sort");
    }
    this.body.replaceChildren(
      ...ordered.map((row) => {
        const line = document.createElement("tr");
        if (this.rowKey) line.dataset.row = this.rowKey(row);
        for (const each of this.columns) {
          const cell = line.insertCell();
          cell.dataset.key = each.key;
          if (each.kind !== "text" && each.kind !== "bool") cell.className = "num";
          const value = this.valueOf(row, each);
          if (each.href) {
            const link = document.createElement("a");
            link.href = each.href(row);
            link.dataset.keyed = "";
            setFigure(link, value, each.kind);
            cell.append(link);
          } else setFigure(cell, value, each.kind);
          if (each.classOf) {
            const extra = each.classOf(row);
            if (extra) cell.classList.add(extra);
          }
        }
        return line;
      }),
    );
    if (ordered.length === 0) {
      const line = this.body.insertRow();
      const cell = line.insertCell();
      cell.colSpan = this.columns.length;
      cell.className = "empty";
      cell.textContent = "nothing to show";
    }
  }
}

/** A Plotly chart's shared look: readable at 1366x768, axis titles always set by the caller. */
export function chartLayout(extra) {
  return {
    margin: { l: 70, r: 70, t: 20, b: 55 },
    font: { family: "system-ui, sans-serif", size: 12, color: "#1d2733" },
    paper_bgcolor: "#ffffff",
    plot_bgcolor: "#ffffff",
    legend: { orientation: "h", y: -0.25 },
    hovermode: "x unified",
    ...extra,
  };
}

export const CHART_CONFIG = { displaylogo: false, responsive: true, modeBarButtonsToRemove: ["sendDataToCloud"] };
