package features

import "context"

// Covisitation is CovisitationTo with a row per recent item, for the tests.
func (s *Store) Covisitation(ctx context.Context, recent, candidates []string) ([][]float64, error) {
	flat := make([]float64, len(recent)*len(candidates))
	if err := s.CovisitationTo(ctx, recent, candidates, flat); err != nil {
		return nil, err
	}
	out := make([][]float64, len(recent))
	for j := range out {
		out[j] = flat[j*len(candidates) : (j+1)*len(candidates) : (j+1)*len(candidates)]
	}
	return out, nil
}
