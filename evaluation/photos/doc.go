// Package photos is the protocol of `fusionrank eval photos` on a catalogue
// in the Grocery Store layout (package vision/photoset): every shopper's
// photo of the evaluated split is a query against all products (TaskPhoto),
// or every product's name and description sentence is a query against the
// products known by their photos only (TaskWords). Models learn from the
// training split only (Model, Data); Run scores every query and reports
// accuracy@1 (HR@1), HR@5, HR@10, NDCG@5, NDCG@10 and MRR over the products
// and over the coarse classes, with the fine ranks for `eval compare`.
//
// The models: DescriptorModel (the fixed descriptor of package vision),
// EncoderModel (a trained vision.Encoder: a file of `fusionrank
// train-images`, or trained in the run) and the comparison models of the
// fusion question, FusionModel (single modalities, early fusion, late
// fusion and the fusion scorer of package ranking, all on one shared
// encoder; see FusionModels).
package photos
