// The offline shell: the app's own files are cached so the PWA starts without a network; the page then shows
// which hop is down. API, auth and WebSocket traffic is never cached or intercepted.

const CACHE = "imcodes-shell-v9";
const SHELL = [
  "/",
  "/static/app.css",
  "/static/chat.css",
  "/static/manifest.webmanifest",
  "/static/icons/icon.svg",
  "/static/icons/icon-maskable.svg",
  "/static/js/accounts.js",
  "/static/js/app.js",
  "/static/js/audit.js",
  "/static/js/backoff.js",
  "/static/js/base64url.js",
  "/static/js/binary.js",
  "/static/js/chat-view.js",
  "/static/js/connection.js",
  "/static/js/dialogs.js",
  "/static/js/dom.js",
  "/static/js/keys.js",
  "/static/js/passkeys.js",
  "/static/js/people.js",
  "/static/js/roles.js",
  "/static/js/security.js",
  "/static/js/sharing.js",
  "/static/js/sign-in.js",
  "/static/js/sidebar.js",
  "/static/js/store.js",
  "/static/js/terminal-view.js",
  "/static/js/timeline.js",
  "/static/js/webauthn.js",
  "/static/vendor/xterm/xterm.mjs",
  "/static/vendor/xterm/xterm.css",
  "/static/vendor/addon-fit/addon-fit.mjs",
];

self.addEventListener("install", (event) => {
  // cache what can be fetched; a signed-out "/" (401) is simply not cached
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => Promise.all(SHELL.map((url) => cache.add(url).catch(() => undefined))))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

function isShell(url) {
  return url.origin === self.location.origin && (url.pathname === "/" || url.pathname.startsWith("/static/"));
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || !isShell(url)) return; // /api, /auth, /ws: straight to the network
  if (request.mode === "navigate" || url.pathname === "/") {
    // network first, so sign-in is always checked online; the cached shell only when the network fails
    event.respondWith(
      fetch(request)
        .then((response) => {
          if (response.ok && response.type === "basic") {
            const copy = response.clone();
            caches.open(CACHE).then((cache) => cache.put("/", copy));
          }
          return response;
        })
        .catch(() => caches.match("/").then((cached) => cached || Response.error())),
    );
    return;
  }
  // static files: the network when it answers (fresh after an upgrade), the cache when offline
  event.respondWith(
    fetch(request)
      .then((response) => {
        if (response.ok) {
          const copy = response.clone();
          caches.open(CACHE).then((cache) => cache.put(request, copy));
        }
        return response;
      })
      .catch(() => caches.match(request).then((cached) => cached || Response.error())),
  );
});
