package extract

import (
	"bufio"
	"strings"
	"testing"
)

func TestReadPGM(t *testing.T) {
	img, err := readPGM(bufio.NewReader(strings.NewReader("P5\n# a comment\n3 2\n255\n\x00\x10\x20\x30\x40\xff")), 10)
	if err != nil {
		t.Fatal(err)
	}
	if img.Bounds().Dx() != 3 || img.Bounds().Dy() != 2 || img.GrayAt(2, 1).Y != 0xff || img.GrayAt(1, 0).Y != 0x10 {
		t.Fatalf("decoded %v %v", img.Bounds(), img.Pix)
	}
	for name, in := range map[string]string{
		"not PGM":     "P6\n3 2\n255\n......",
		"ASCII PGM":   "P2\n3 2\n255\n0 0 0 0 0 0",
		"no size":     "P5\n\n255\n",
		"16-bit":      "P5\n1 1\n65535\n\x00\x00",
		"too large":   "P5\n11 1\n255\n...........",
		"zero size":   "P5\n0 1\n255\n",
		"truncated":   "P5\n3 2\n255\n\x00\x01",
		"bad number":  "P5\n3x 2\n255\n......",
		"empty":       "",
		"huge number": "P5\n99999999999 1\n255\n",
	} {
		if _, err := readPGM(bufio.NewReader(strings.NewReader(in)), 10); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
