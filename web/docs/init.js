// Renders /api/openapi.json with Swagger UI, read-only and offline: no
// "try it out", no validator badge (it would call validator.swagger.io),
// no top bar that could load a description from elsewhere.
/* global SwaggerUIBundle */
SwaggerUIBundle({
  url: '/api/openapi.json',
  dom_id: '#docs',
  presets: [SwaggerUIBundle.presets.apis],
  layout: 'BaseLayout',
  validatorUrl: null,
  supportedSubmitMethods: [],
  deepLinking: true,
  docExpansion: 'list',
  defaultModelsExpandDepth: 0,
});
