// The dashboard's few behaviours, bound here rather than in inline handlers so that the
// Content-Security-Policy can forbid inline script ("script-src 'self'").
//   <button data-copy="element-id">     copies that element's text to the clipboard
//   <form data-confirm="question">      asks before submitting
//   <select data-navigate>              goes to the chosen option's URL
//   <input data-member-search="url" list="id">  suggests members as you type (the server
//                                       searches; no page lists every member)
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (source && navigator.clipboard) {
      navigator.clipboard.writeText(source.textContent.trim()).then(function () {
        var label = button.textContent;
        button.textContent = "Copied";
        setTimeout(function () { button.textContent = label; }, 1500);
      });
    }
  });
  document.addEventListener("submit", function (event) {
    var form = event.target.closest("form[data-confirm]");
    if (form && !window.confirm(form.getAttribute("data-confirm"))) event.preventDefault();
  });
  var timer = null;
  document.addEventListener("input", function (event) {
    var input = event.target.closest("input[data-member-search]");
    if (!input) return;
    clearTimeout(timer);
    var q = input.value.trim();
    if (q.length < 2) return;
    timer = setTimeout(function () {
      fetch(input.getAttribute("data-member-search") + "?q=" + encodeURIComponent(q), {
        credentials: "same-origin", headers: { "Accept": "application/json" }
      }).then(function (r) { return r.ok ? r.json() : { results: [] }; }).then(function (data) {
        var list = document.getElementById(input.getAttribute("list"));
        if (!list) return;
        list.replaceChildren.apply(list, data.results.map(function (m) {
          var option = document.createElement("option");
          option.value = m.email;
          option.label = m.name || m.email;
          return option;
        }));
      });
    }, 150);
  });
  document.addEventListener("change", function (event) {
    var select = event.target.closest("select[data-navigate]");
    if (select && select.value) window.location = select.value;
  });
})();
