package training

import (
	"fmt"
	"math/rand/v2"

	"github.com/fusionrank/fusionrank/internal/kernel"
	"github.com/fusionrank/fusionrank/ranking"
)

// net is the trainable state: the scorer, the learned tables and how item
// and query tokens are made from Data.
type net struct {
	d      *Data
	o      Options
	cfg    ranking.Config
	layout ranking.Layout
	model  *ranking.Model
	collab *Embeddings // NumItems × CollabDim, nil without collab
	attr   *Embeddings // NumAttributes × AttrDim, nil without attr
	// enc is the optional query encoder, encEmb its Pos as a table for the
	// optimizer (one row per recent slot).
	enc    *ranking.RecencyEmbedding
	encEmb *Embeddings
	// seq is the optional sequence encoder whose score is the seq feature
	// (ranking.FeatSeq); it is trained before the scorer and then frozen.
	seq []*SeqModel
	// mix is the learned part of a non-attention fusion mode, nil under
	// attention.
	mix *mixer
	// mCollab and mAttr are the model modality indices, −1 when absent.
	mCollab, mAttr int
	// fixedOf[j] is the Data.Fixed index of model modality j, −1 for the
	// learned ones.
	fixedOf []int
	// profile lists the Data.Fixed indices of the profile slots, in order.
	profile []int
	// recentFixed is the Data.Fixed index of the recent slots' modality
	// when it is fixed (NoCollab), −1 otherwise.
	recentFixed int
}

func newNet(d *Data, o Options, rng *rand.Rand) (*net, error) {
	n := &net{d: d, o: o, mCollab: -1, mAttr: -1, recentFixed: -1}
	var mods []ranking.Modality
	if !o.NoCollab {
		n.mCollab = len(mods)
		mods = append(mods, ranking.Modality{Name: "collab", Dim: o.CollabDim})
		n.fixedOf = append(n.fixedOf, -1)
	}
	if d.Attributes != nil && d.NumAttributes > 0 && !o.NoAttr {
		n.mAttr = len(mods)
		mods = append(mods, ranking.Modality{Name: "attr", Dim: o.AttrDim})
		n.fixedOf = append(n.fixedOf, -1)
	}
	var profile []string
	for k, f := range d.Fixed {
		mods = append(mods, ranking.Modality{Name: f.Name, Dim: f.Dim})
		n.fixedOf = append(n.fixedOf, k)
		n.profile = append(n.profile, k)
		profile = append(profile, f.Name)
	}
	if len(mods) == 0 {
		return nil, fmt.Errorf("training: no modality left (collab dropped and no fixed modality)")
	}
	recentMod := "collab"
	if o.NoCollab {
		if len(n.profile) == 0 {
			return nil, fmt.Errorf("training: NoCollab needs a fixed modality for the recent slots")
		}
		n.recentFixed = n.profile[0]
		recentMod = d.Fixed[n.recentFixed].Name
	}
	n.layout = ranking.Layout{Recent: o.Recent, RecentMod: recentMod, ProfileMods: profile}
	if d.searchable() && o.Words > 0 {
		// Query slots: the words of a search, and a caller's vector (a photo)
		// for every fixed modality but text (whose query side is the words).
		n.layout.Words = o.Words
		for _, m := range profile {
			if m != "text" {
				n.layout.QueryMods = append(n.layout.QueryMods, m)
			}
		}
	}
	n.cfg = ranking.Config{Modalities: mods, DModel: o.DModel, DAttn: o.DAttn, NFeatures: ranking.NFeatures, MaxQueryTokens: n.layout.Tokens(), Fusion: o.Fusion}
	if err := n.cfg.Validate(); err != nil {
		return nil, err
	}
	n.model = ranking.NewRandomModel(n.cfg, rng)
	if n.mCollab >= 0 {
		n.collab = NewEmbeddings(d.NumItems, o.CollabDim, o.EmbedStd, rng)
	}
	if n.mAttr >= 0 {
		n.attr = NewEmbeddings(d.NumAttributes, o.AttrDim, o.EmbedStd, rng)
	}
	if o.RecencyEmbedding && n.mCollab >= 0 {
		n.enc = ranking.NewRecencyEmbedding(o.Recent, o.CollabDim)
		n.encEmb = &Embeddings{Dim: o.CollabDim, Data: n.enc.Pos}
	}
	if n.cfg.FusionMode() != FusionAttention {
		mx, err := newMixer(n.model, rng)
		if err != nil {
			return nil, err
		}
		n.mix = mx
	}
	return n, nil
}

// itemToken returns item's raw vector in model modality j, or nil when the
// item lacks it. The attr vector (the mean of the item's attribute
// embeddings) is written to buf, which must have the attr dimension.
func (n *net) itemToken(item int32, j int, buf []float32) []float32 {
	switch {
	case j == n.mCollab:
		return n.collab.Row(int(item))
	case j == n.mAttr:
		as := n.d.Attributes[item]
		if len(as) == 0 {
			return nil
		}
		clear(buf)
		w := 1 / float32(len(as))
		for _, a := range as {
			kernel.Axpy(buf, w, n.attr.Row(int(a)))
		}
		return buf
	default:
		v := n.d.Fixed[n.fixedOf[j]].Vectors[item]
		if len(v) == 0 {
			return nil
		}
		return v
	}
}

// slotToken returns the query token of the k-th most recent item: its
// recent-modality vector, encoded when the model has an encoder (written to
// buf). nil when missing.
func (n *net) slotToken(k int, item int32, buf []float32) []float32 {
	x := n.recentToken(item)
	if x == nil || n.enc == nil {
		return x
	}
	p := n.enc.Pos[k*n.enc.Dim : (k+1)*n.enc.Dim]
	for i, v := range x {
		buf[i] = v + p[i]
	}
	return buf
}

// recentToken returns the raw recent-slot vector of item (collab, or the
// fixed modality under NoCollab), nil when missing.
func (n *net) recentToken(item int32) []float32 {
	if n.recentFixed >= 0 {
		v := n.d.Fixed[n.recentFixed].Vectors[item]
		if len(v) == 0 {
			return nil
		}
		return v
	}
	return n.collab.Row(int(item))
}

// seqFeatures writes the seq feature of every candidate (items[c] for
// candidate c) into feats (len(items) × NFeatures): the mean score of the
// SeqModels. h is scratch of their Dim. No-op without a SeqModel.
func (n *net) seqFeatures(feats []float32, items []int32, hist []Event, h []float32) {
	if len(n.seq) == 0 {
		return
	}
	F := ranking.NFeatures
	for c := range items {
		feats[c*F+ranking.FeatSeq] = 0
	}
	w := 1 / float32(len(n.seq))
	for _, s := range n.seq {
		s.QueryTo(h, hist)
		for c, it := range items {
			feats[c*F+ranking.FeatSeq] += w * s.Score(h, it)
		}
	}
}
