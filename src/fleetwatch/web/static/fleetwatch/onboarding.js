// Copy buttons of the onboarding pages: <button class="copy" data-copy="#id"> copies that element's text.
// The Clipboard API needs a secure context (https, or http on loopback); a LAN address over plain
// http is not one, so the text is selected and copied the old way there.
(function () {
  function copied(button) {
    const label = button.textContent;
    button.textContent = "Copied";
    button.dataset.copied = "true";
    setTimeout(function () { button.textContent = label; }, 1500);
  }
  function fallback(target, button) {
    const range = document.createRange();
    range.selectNodeContents(target);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    if (document.execCommand("copy")) copied(button);
    else button.textContent = "Select and copy";
  }
  document.querySelectorAll("button.copy").forEach(function (button) {
    button.addEventListener("click", function () {
      const target = document.querySelector(button.dataset.copy);
      const text = target.textContent.trim();
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(function () { copied(button); }, function () { fallback(target, button); });
      } else {
        fallback(target, button);
      }
    });
  });
})();
