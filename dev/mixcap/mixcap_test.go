package mixcap

import (
	"bytes"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

func TestFramesDecodeAndRepeat(t *testing.T) {
	a, err := Frames(7, 500)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Frames(7, 500)
	c, _ := Frames(8, 500)
	if len(a) != 500 {
		t.Fatalf("%d frames", len(a))
	}
	differ := false
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			t.Fatalf("frame %d differs for the same seed", i)
		}
		differ = differ || !bytes.Equal(a[i], c[i])
		p := gopacket.NewPacket(a[i], layers.LayerTypeEthernet, gopacket.Default)
		if el := p.ErrorLayer(); el != nil {
			t.Fatalf("frame %d does not decode: %v", i, el.Error())
		}
	}
	if !differ {
		t.Error("another seed gave the same frames")
	}
}
