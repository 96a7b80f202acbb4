package main

import (
	"context"
	"time"
)

// pruneSearches drops the search-log days older than FUSIONRANK_QUERY_RETENTION, at
// start and then hourly, until ctx ends. Every replica does it; dropping a day that
// another replica dropped first is a no-op.
func (m *Main) pruneSearches(ctx context.Context) {
	if m.Config.QueryRetention <= 0 {
		return
	}
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		days, err := m.Searches.Prune(ctx, time.Now().Add(-m.Config.QueryRetention))
		switch {
		case err != nil && ctx.Err() == nil:
			m.Log.Warn("search log retention: could not drop old days", "err", err)
		case len(days) > 0:
			m.Log.Info("search log retention: dropped days", "days", days)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
