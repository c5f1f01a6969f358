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
  button.onclick = async () => {
    show();
    field.select();
    try {
      await navigator.clipboard.writeText(field.value);
    } catch (err) {
      document.execCommand && document.execCommand("copy");  // no clipboard API (plain http on another host)
    }
    button.textContent = data.copied;
    setTimeout(() => { button.textContent = data.copy; }, 1500);
  };
  return () => clearInterval(timer);
}
