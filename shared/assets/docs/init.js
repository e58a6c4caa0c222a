// Swagger UI for this service's own /openapi.json (resolved against the page, so it works behind
// a path prefix too). A file rather than an inline script, so that the page's
// Content-Security-Policy can refuse every inline script. No validator: Swagger UI would
// otherwise send the document to validator.swagger.io.
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: new URL("openapi.json", window.location.href).href,
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
});
