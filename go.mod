module netspot

go 1.26.0

require (
	github.com/gopacket/gopacket v1.7.7
	golang.org/x/term v0.48.0
)

require (
	golang.org/x/net v0.55.0 // indirect
	golang.org/x/sys v0.50.0 // indirect
)
