//! The generic Hugging Face sequence-classification contract on a generated BERT-shaped model
//! (`models/testdata/bert-test`, made by `models/tools/make_bert_test_model.py`): WordPiece
//! tokenizer with `[CLS] $A [SEP]`, a `token_type_ids` input, and `logits` to softmax. The graph
//! computes `logits = sum over tokens of mask * (WORD[id] + TYPE[type])` with WORD["good"] =
//! (0, 0, 2), WORD["bad"] = (2, 0, 0), TYPE[0] = (0, 0.5, 0), so every expectation below is worked
//! out by hand.

mod common;

use common::{analyze, pipeline};
use soyl_models::text::{Granularity, TextOptions, TextParams, TextPipeline};
use soyl_models::CancelToken;

const DOCUMENT: TextParams = TextParams {
    granularity: Granularity::Document,
};

fn bert() -> TextPipeline {
    pipeline("testdata", TextOptions::default())
}

/// The reading the manifest's affect table gives for these logits: probabilities and
/// (valence, arousal) with negative = (-0.8, 0.2), neutral = (0, 0), positive = (0.8, 0.4).
fn expected(logits: [f64; 3]) -> ([f64; 3], f64, f64) {
    let e = logits.map(f64::exp);
    let sum: f64 = e.iter().sum();
    let p = e.map(|x| x / sum);
    (p, -0.8 * p[0] + 0.8 * p[2], 0.2 * p[0] + 0.4 * p[2])
}

fn assert_reading(got: &soyl_models::affect::Reading, logits: [f64; 3]) {
    let (p, valence, arousal) = expected(logits);
    let close = |a: f64, b: f64| (a - b).abs() < 1e-3;
    assert!(close(got.emotions["negative"], p[0]), "{got:?} vs {p:?}");
    assert!(close(got.emotions["neutral"], p[1]), "{got:?} vs {p:?}");
    assert!(close(got.emotions["positive"], p[2]), "{got:?} vs {p:?}");
    assert!(close(got.valence, valence), "{got:?} vs valence {valence}");
    assert!(close(got.arousal, arousal), "{got:?} vs arousal {arousal}");
}

#[tokio::test(flavor = "multi_thread")]
async fn logits_are_softmaxed_with_special_tokens_and_token_types() {
    // [CLS] the movie was good [SEP]: 6 tokens of type 0 -> neutral 3, positive 2.
    let got = analyze(&bert(), "The movie was GOOD", DOCUMENT)
        .await
        .expect("analysis");
    assert_reading(&got.spans[0].reading, [0.0, 3.0, 2.0]);
    assert_eq!(got.spans[0].reading.top, "neutral");
}

#[tokio::test(flavor = "multi_thread")]
async fn wordpiece_continuations_are_tokens_of_their_own() {
    // [CLS] bad bad ##s [SEP]: 5 tokens -> negative 4, neutral 2.5.
    let got = analyze(&bert(), "bad bads", DOCUMENT)
        .await
        .expect("analysis");
    assert_reading(&got.spans[0].reading, [4.0, 2.5, 0.0]);
    assert_eq!(got.spans[0].reading.top, "negative");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_span_over_max_length_is_split_with_overlap_and_merged() {
    // max_length 8 leaves 6 words per chunk; overlap 2: words 1-6 and 5-10, each chunk
    // [CLS] + 6 x good + [SEP] -> neutral 4, positive 12, so the merged reading is the same.
    let text = "good ".repeat(10);
    let got = analyze(&bert(), &text, DOCUMENT).await.expect("analysis");
    assert_eq!(got.batch_sizes.len(), 2, "chunks");
    assert_eq!((got.spans[0].begin, got.spans[0].end), (0, 49));
    assert_reading(&got.spans[0].reading, [0.0, 4.0, 12.0]);
}

#[tokio::test(flavor = "multi_thread")]
async fn padding_in_a_batch_does_not_change_a_result() {
    let bert = bert();
    let texts = ["good", "the movie was bad", "good good good good", "a day"];
    let cancel = CancelToken::new();
    let together = futures::future::join_all(
        texts
            .iter()
            .map(|t| bert.analyze((*t).to_owned(), DOCUMENT, true, &cancel)),
    )
    .await;
    assert!(
        together
            .iter()
            .any(|r| r.as_ref().is_ok_and(|r| r.batch_sizes[0] > 1)),
        "the texts shared a batch"
    );
    for (t, r) in texts.iter().zip(together) {
        let alone = analyze(&bert, t, DOCUMENT).await.expect("analysis");
        assert_eq!(
            r.expect("analysis").spans[0].reading,
            alone.spans[0].reading
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_token_budget_caps_every_batch() {
    // max_batch_tokens 128 and max_batch 32: 40 chunks of 8 tokens ([CLS] + 6 words + [SEP])
    // fit 16 to a batch by tokens, though 32 would fit by count.
    let bert = bert();
    let cancel = CancelToken::new();
    let text = "the movie was good good day";
    let answers = futures::future::join_all(
        (0..40).map(|_| bert.analyze(text.to_owned(), DOCUMENT, false, &cancel)),
    )
    .await;
    let sizes: Vec<usize> = answers
        .into_iter()
        .map(|a| a.expect("analysis").batch_sizes[0])
        .collect();
    eprintln!("batch sizes: {sizes:?}");
    assert!(sizes.iter().all(|&s| s <= 16), "{sizes:?}");
    assert!(sizes.iter().any(|&s| s > 1), "{sizes:?}");
}
