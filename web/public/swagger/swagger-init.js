// Starts Swagger UI on the server's OpenAPI document (served at /api/docs).
// A separate file because the Content-Security-Policy forbids inline scripts.
// "Try it out" works with an API token (Authorize → bearer); browser sessions
// also need the X-CSRF-Token header for changes.
window.addEventListener('load', function () {
  // eslint-disable-next-line no-undef
  SwaggerUIBundle({
    url: '/api/openapi.json',
    dom_id: '#swagger-ui',
    deepLinking: true,
    withCredentials: true,
  });
});
