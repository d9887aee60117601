// The refusal page: without a key in the address bar, open the page again with the key this tab keeps (once);
// a key given there is taken out of it, and forgotten if it was refused outright (401: unknown or revoked).

const KEY_ITEM = "crossmargin.key";
const url = new URL(window.location.href);
const given = url.searchParams.get("key");
const kept = sessionStorage.getItem(KEY_ITEM);

if (given) {
  if (kept === given && document.body.dataset.status === "401") sessionStorage.removeItem(KEY_ITEM);
  url.searchParams.delete("key");
  history.replaceState(history.state, "", url.pathname + url.search + url.hash);
} else if (kept) {
  url.searchParams.set("key", kept);
  window.location.replace(url.href);
}
