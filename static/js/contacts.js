// Checkbox selection on the contacts table: "select this page" and the live count.
// Without JavaScript the checkboxes still post as a normal form.
(function () {
  function update(form) {
    const all = form.querySelector("#select-all-matching");
    const count = form.querySelector("#selected-count");
    if (!count) return;
    const checked = form.querySelectorAll(".row-check:checked").length;
    // "All matching" shows the exact number once it is known (counted on demand past the cap).
    const matching = form.querySelector("#matching-count[data-exact]");
    count.textContent = all && all.checked ? (matching ? matching.textContent : "…") : checked;
  }
  document.addEventListener("htmx:afterSettle", () => {
    const form = document.getElementById("bulk-form");
    if (form) update(form);
  });
  document.addEventListener("change", (event) => {
    const form = event.target.closest("#bulk-form");
    if (!form) return;
    if (event.target.id === "select-page") {
      form.querySelectorAll(".row-check").forEach((box) => { box.checked = event.target.checked; });
    }
    if (event.target.id === "select-all-matching" && event.target.checked) {
      form.querySelectorAll(".row-check").forEach((box) => { box.checked = true; });
    }
    if (event.target.classList.contains("row-check") && !event.target.checked) {
      const all = form.querySelector("#select-all-matching");
      if (all) all.checked = false;
    }
    update(form);
  });
})();
