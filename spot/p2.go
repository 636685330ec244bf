package spot

import "sort"

// p2Quantile estimates the p-quantile of data with the P² algorithm of Jain
// and Chlamtac (1985), in the variant of the reference C library: a value
// below the lowest or above the highest marker only moves that marker, the
// marker positions are not advanced. It is used in reference mode only, to
// reproduce the reference excess threshold; the default mode sorts the
// calibration batch and takes the exact quantile instead. With fewer than 5
// values it returns 0, as the reference does.
func p2Quantile(p float64, data []float64) float64 {
	if len(data) < 5 {
		return 0
	}
	var q, n, np, dn [5]float64
	copy(q[:], data[:5])
	sort.Float64s(q[:])
	for i := range n {
		n[i] = float64(i)
	}
	np = [5]float64{0, 2 * p, 4 * p, 2 + 2*p, 4}
	dn = [5]float64{0, p / 2, p, (p + 1) / 2, 1}

	for _, x := range data[5:] {
		switch {
		case x < q[0]:
			q[0] = x
			continue
		case x > q[4]:
			q[4] = x
			continue
		}
		k := 0
		for x > q[k] {
			k++
		}
		k-- // q[k] < x <= q[k+1]
		for i := k + 1; i < 5; i++ {
			n[i]++
		}
		for i := range np {
			np[i] += dn[i]
		}
		for i := 1; i < 4; i++ {
			d := np[i] - n[i]
			if (d >= 1 && n[i+1]-n[i] > 1) || (d <= -1 && n[i-1]-n[i] < -1) {
				step := 1.0
				if d < 0 {
					step = -1
				}
				qp := p2Parabolic(&q, &n, i, step)
				if !(q[i-1] < qp && qp < q[i+1]) {
					qp = p2Linear(&q, &n, i, step)
				}
				q[i] = qp
				n[i] += step
			}
		}
	}
	return q[2]
}

func p2Parabolic(q, n *[5]float64, i int, d float64) float64 {
	return q[i] + float64((d/(n[i+1]-n[i-1]))*
		((n[i]-n[i-1]+d)*(q[i+1]-q[i])/(n[i+1]-n[i])+
			(n[i+1]-n[i]-d)*(q[i]-q[i-1])/(n[i]-n[i-1])))
}

func p2Linear(q, n *[5]float64, i int, d float64) float64 {
	j := i + int(d)
	return q[i] + d*(q[j]-q[i])/(n[j]-n[i])
}
