package text

import (
	"errors"
	"fmt"
	"math"
	"strconv"
)

// float32Pow10 holds the powers of ten that are exact in a float32.
var float32Pow10 = [...]float32{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10}

// parseFloat32Fast parses the decimal number in b, [+-]digits[.digits][(e|E)[+-]digits],
// when its value is m·10^e with an integer m < 2^24 and |e| <= 10. Then m and
// 10^|e| are exact in a float32, and one IEEE multiplication or division
// gives the correctly rounded result, the same as strconv.ParseFloat(s, 32)
// (Clinger's fast path). It reports false for anything else (more
// significant digits, larger exponents, other syntax), and the caller falls
// back to strconv. Word vector files are almost entirely such numbers: in
// GloVe 6B 100-d, 6 values in 5 million are not.
func parseFloat32Fast(b []byte) (float32, bool) {
	i := 0
	neg := false
	if i < len(b) && (b[i] == '-' || b[i] == '+') {
		neg = b[i] == '-'
		i++
	}
	var mant uint32
	exp := 0
	digits := 0 // digits read, including leading zeros
	for ; i < len(b) && '0' <= b[i] && b[i] <= '9'; i++ {
		mant = mant*10 + uint32(b[i]-'0')
		if mant >= 1<<24 {
			return 0, false
		}
		digits++
	}
	if i < len(b) && b[i] == '.' {
		i++
		for ; i < len(b) && '0' <= b[i] && b[i] <= '9'; i++ {
			mant = mant*10 + uint32(b[i]-'0')
			if mant >= 1<<24 {
				return 0, false
			}
			exp--
			digits++
		}
	}
	if digits == 0 {
		return 0, false
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		eneg := false
		if i < len(b) && (b[i] == '-' || b[i] == '+') {
			eneg = b[i] == '-'
			i++
		}
		if i == len(b) {
			return 0, false
		}
		e := 0
		for ; i < len(b) && '0' <= b[i] && b[i] <= '9'; i++ {
			e = e*10 + int(b[i]-'0')
			if e > 100 {
				return 0, false
			}
		}
		if eneg {
			e = -e
		}
		exp += e
	}
	if i != len(b) {
		return 0, false
	}
	f := float32(mant)
	switch {
	case mant == 0:
	case exp < 0 && exp >= -10:
		f /= float32Pow10[-exp]
	case exp >= 0 && exp <= 10:
		f *= float32Pow10[exp]
	default:
		return 0, false
	}
	if neg {
		f = -f
	}
	return f, true
}

// parseFloat32 parses one value of a vector file: the fast path, else
// strconv. Values must be finite and fit in a float32.
func parseFloat32(b []byte) (float32, error) {
	if f, ok := parseFloat32Fast(b); ok {
		return f, nil
	}
	v, err := strconv.ParseFloat(string(b), 32)
	switch {
	case errors.Is(err, strconv.ErrRange):
		return 0, fmt.Errorf("%q does not fit in a float32", b)
	case err != nil:
		return 0, fmt.Errorf("%q is not a number", b)
	case math.IsNaN(v) || math.IsInf(v, 0):
		return 0, fmt.Errorf("%q is not finite", b)
	}
	return float32(v), nil
}
