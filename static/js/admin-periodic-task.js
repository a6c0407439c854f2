// The periodic task form of the Django admin: the chosen crontab is also shown in
// words under the field (django-celery-beat's behaviour, without an inline script).
(() => {
  const $ = window.django && window.django.jQuery;
  const readable = JSON.parse(document.getElementById("readable-crontabs")?.textContent || "{}");
  const help = JSON.parse(document.getElementById("crontab-help")?.textContent || '""');
  if (!$) return;
  $(".field-crontab_translation").hide();
  $(".field-crontab").on("change", () => {
    const words = readable[$("#id_crontab").val()];
    const target = $(".field-crontab .help");
    target.text(help);
    if (words) target.append("<br>", document.createTextNode(`Translation: ${words}`));
  });
})();
