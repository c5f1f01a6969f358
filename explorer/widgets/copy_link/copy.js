// copy_link: the address of the current view (the app keeps it in the address bar: explorer/view_link.py)
// shown live and copied to the clipboard on a click. Components v2 run in the page itself, so
// window.location is the app's own address, query included, as the visitor's browser has it now.
"use strict";

export default function (component) {
  const {data, parentElement} = component;
  const field = parentElement.querySelector(".link");
  const button = parentElement.querySelector(".copy");
  button.textContent = data.copy;
  const show = () => { if (field.value !== window.location.href) field.value = window.location.href; };
  show();
  const timer = setInterval(show, 400);  // fragments rewrite the query without a full rerun
  // The clipboard API can reject (plain http on another host) or, in some headless browsers, never settle:
  // after a second without an answer the selected field is copied the old way. Each copy is counted on the
  // button (data-copies), so a page or a test can tell that it happened after the word "Copied" is gone.
  const settled = (promise, ms) => Promise.race([promise, new Promise((_, no) => setTimeout(no, ms))]);
  button.onclick = async () => {
    show();
    field.select();
    try {
      await settled(navigator.clipboard.writeText(field.value), 1000);
    } catch (err) {
      document.execCommand && document.execCommand("copy");
    }
    button.dataset.copies = String(+(button.dataset.copies || 0) + 1);
    button.textContent = data.copied;
    setTimeout(() => { button.textContent = data.copy; }, 1500);
  };
  return () => clearInterval(timer);
}
