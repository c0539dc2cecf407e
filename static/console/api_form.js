// On the add page of an API, shows only the sections of the kind chosen (REST, AI, prompt...).
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const kind = document.getElementById("id_kind");
  if (!kind || kind.tagName !== "SELECT") return;
  const show = () => {
    for (const section of document.querySelectorAll("fieldset.kind-section")) {
      section.hidden = !section.classList.contains(`kind-${kind.value}`);
      // A field shared by several kinds' sections is sent from the shown one only.
      for (const field of section.querySelectorAll("input, select, textarea")) {
        field.disabled = section.hidden;
      }
    }
  };
  kind.addEventListener("change", show);
  show();
});
