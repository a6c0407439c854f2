// Small progressive enhancements; every page works without them.
document.addEventListener("htmx:afterSwap", () => {
  document.querySelectorAll(".flash").forEach((el) => setTimeout(() => el.remove(), 6000));
});
// Elements with data-confirm ask before submitting (bulk delete, archive …).
document.addEventListener("submit", (event) => {
  const msg = event.submitter?.dataset.confirm || event.target.dataset.confirm;
  if (msg && !window.confirm(msg)) event.preventDefault();
});
