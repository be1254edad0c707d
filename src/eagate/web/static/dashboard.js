// eagate dashboard: copy buttons, and forgetting the address of a page that shows a secret.
// A static file because the Content-Security-Policy allows no inline script.
(function () {
  "use strict";

  function selectContents(element) {
    var range = document.createRange();
    range.selectNodeContents(element);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  function confirmCopied(button, text) {
    var original = button.getAttribute("data-label") || button.textContent;
    button.setAttribute("data-label", original);
    button.textContent = text;
    button.classList.add("is-done");
    window.setTimeout(function () {
      button.textContent = original;
      button.classList.remove("is-done");
    }, 2000);
  }

  function copyFrom(button) {
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (!source) {
      return;
    }
    var text = source.textContent.trim();
    // The Clipboard API needs a secure context (https or localhost); elsewhere fall back to
    // selecting the text and the older copy command.
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(
        function () { confirmCopied(button, "Copied"); },
        function () { selectContents(source); confirmCopied(button, "Press Ctrl+C"); }
      );
      return;
    }
    selectContents(source);
    var copied = false;
    try {
      copied = document.execCommand("copy");
    } catch (error) {
      copied = false;
    }
    confirmCopied(button, copied ? "Copied" : "Press Ctrl+C");
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (button) {
      event.preventDefault();
      copyFrom(button);
    }
  });

  // A page showing a secret answers a form; its address becomes the device's page so that a
  // reload shows that page instead of sending the form again (and never shows the secret).
  var replacement = document.body.getAttribute("data-replace-url");
  if (replacement && window.history && window.history.replaceState) {
    window.history.replaceState(null, "", replacement);
  }
})();
