// Renders the API's OpenAPI document with the bundled Swagger UI when its section is opened.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const target = document.getElementById("swagger-ui");
  if (!target || typeof SwaggerUIBundle === "undefined") return;
  const details = target.closest("details");
  let shown = false;
  const show = () => {
    if (shown || !details.open) return;
    shown = true;
    SwaggerUIBundle({ url: target.dataset.url, domNode: target, deepLinking: false, supportedSubmitMethods: [] });
  };
  details.addEventListener("toggle", show);
  show();
});
