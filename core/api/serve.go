package api

import "context"

// ListenAndServe is netspot serve: it listens on the configured endpoint,
// logs where (and why the API is read-only, if it is), starts the pipeline
// at once when [api] autostart says so, and serves until ctx ends. An
// endpoint that cannot be listened on is an error of the system (a port in
// use wraps syscall.EADDRINUSE, a missing permission fs.ErrPermission).
func (s *Server) ListenAndServe(ctx context.Context) error {
	l, err := Listen(s.cfg)
	if err != nil {
		return err
	}
	network, _, _ := ParseEndpoint(s.cfg.Endpoint)
	token := s.cfg.Token != "" || s.cfg.TokenFile != ""
	if network == "unix" {
		s.log.Info("netspot serving", "socket", l.Addr().String(), "mode", s.cfg.SocketMode, "token", token)
	} else {
		s.log.Info("netspot serving", "dashboard", "http://"+l.Addr().String()+"/", "token", token)
	}
	if st := s.Status(); st.ReadOnly {
		s.log.Warn(st.ReadOnlyReason)
	}
	if s.cfg.Autostart {
		if err := s.Start(ctx); err != nil {
			// Keep serving: the configuration can be fixed from the
			// dashboard.
			s.log.Error("autostart failed", "err", err)
		}
	}
	return s.Serve(ctx, l)
}
