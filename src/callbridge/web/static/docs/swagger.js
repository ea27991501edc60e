// Starts Swagger UI on /docs (a file, not an inline script: the page's CSP allows no inline code).
const script = /** @type {HTMLScriptElement} */ (document.currentScript);
/** @type {any} */
const SwaggerUIBundle = /** @type {any} */ (window).SwaggerUIBundle;

/** @type {any} */ (window).ui = SwaggerUIBundle({
  url: script.dataset.openapiUrl,
  dom_id: "#swagger-ui",
  layout: "BaseLayout",
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  validatorUrl: null, // never send the API description to swagger.io's validator
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
});
