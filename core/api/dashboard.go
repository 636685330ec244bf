package api

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"
)

// The dashboard: one page, its script and its style, written by hand and
// embedded in the binary (no build step, nothing fetched from elsewhere).
//
//go:embed web/index.html web/assets
var webFiles embed.FS

// pageSecurity keeps the page to its own files and the API: no inline
// script, no other origin, no framing by other sites.
const pageSecurity = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

func (s *Server) handleDashboard(w http.ResponseWriter, r *http.Request) {
	page, err := webFiles.ReadFile("web/index.html")
	if err != nil {
		writeError(w, http.StatusInternalServerError, "dashboard missing from the binary")
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", pageSecurity)
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-cache")
	_, _ = w.Write(page)
}

// assetHandler serves the page's script, style and icon.
func assetHandler() http.HandlerFunc {
	files, err := fs.Sub(webFiles, "web/assets")
	if err != nil {
		panic(err) // the directory is embedded above: cannot happen
	}
	server := http.StripPrefix("/assets/", http.FileServerFS(files))
	return func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/") { // no directory listings
			notFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "no-cache")
		server.ServeHTTP(w, r)
	}
}
