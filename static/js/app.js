// Small progressive enhancements; every page works without them.
document.addEventListener("htmx:afterSwap", () => {
  document.querySelectorAll(".flash").forEach((el) => setTimeout(() => el.remove(), 6000));
});
// Elements with data-confirm ask before submitting (bulk delete, archive …).
document.addEventListener("submit", (event) => {
  const msg = event.submitter?.dataset.confirm || event.target.dataset.confirm;
  if (msg && !window.confirm(msg)) event.preventDefault();
});
// A select marked data-autosubmit submits its form when it changes (the workspace
// switch, an enrollment's priority); a <noscript> button does the same without JavaScript.
document.addEventListener("change", (event) => {
  if (event.target.matches?.("select[data-autosubmit]")) event.target.form?.requestSubmit();
});
