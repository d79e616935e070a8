//! The text pipeline on the reference VADER-lexicon model (`../shared/models/text-sentiment`):
//! sentiment direction, sentence spans and their offsets (Unicode included), input errors,
//! splitting of long spans, and batching of many texts at once.

mod common;

use common::{analyze, input_code, pipeline, pipeline_with, slice_chars};
use soyl_models::face::BatchOverrides;
use soyl_models::text::{Granularity, TextLimits, TextOptions, TextParams};
use soyl_models::CancelToken;
use std::sync::atomic::Ordering;
use std::time::Duration;

const DOCUMENT: TextParams = TextParams {
    granularity: Granularity::Document,
};
const SENTENCES: TextParams = TextParams {
    granularity: Granularity::Sentence,
};

fn reference() -> soyl_models::text::TextPipeline {
    pipeline("repository", TextOptions::default())
}

async fn valence(text: &str) -> f64 {
    let got = analyze(&reference(), text, DOCUMENT)
        .await
        .expect("analysis");
    eprintln!("{text:?} -> {:?}", got.summary);
    assert_eq!(got.spans.len(), 1);
    got.spans[0].reading.valence
}

#[tokio::test(flavor = "multi_thread")]
async fn praise_reads_clearly_positive() {
    let v = valence("I love this, it is wonderful :)").await;
    assert!(v > 0.5, "valence {v}");
}

#[tokio::test(flavor = "multi_thread")]
async fn complaint_reads_clearly_negative() {
    let v = valence("This is terrible and I hate it.").await;
    assert!(v < -0.5, "valence {v}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plain_fact_reads_neutral() {
    let v = valence("The meeting is at 3pm.").await;
    assert!(v.abs() < 0.1, "valence {v}");
}

#[tokio::test(flavor = "multi_thread")]
async fn three_sentences_give_three_spans_that_slice_the_text() {
    let text = "I love this place. The meeting is at 3pm.  I hate rainy days!";
    let got = analyze(&reference(), text, SENTENCES)
        .await
        .expect("analysis");
    let slices: Vec<String> = got
        .spans
        .iter()
        .map(|s| slice_chars(text, s.begin, s.end))
        .collect();
    assert_eq!(
        slices,
        [
            "I love this place.",
            "The meeting is at 3pm.",
            "I hate rainy days!"
        ]
    );
    let valences: Vec<f64> = got.spans.iter().map(|s| s.reading.valence).collect();
    assert!(
        valences[0] > 0.3 && valences[1].abs() < 0.1 && valences[2] < -0.3,
        "{valences:?}"
    );
    // The summary weighs spans by length: between the extremes.
    assert!(got.summary.valence > valences[2] && got.summary.valence < valences[0]);
}

#[tokio::test(flavor = "multi_thread")]
async fn emoji_combining_marks_rtl_and_crlf_keep_offsets() {
    let text =
        "Great 👍🏽 day, I love it.\r\nCafe\u{301} au lait is good.\r\nשלום עולם. مرحبا بالعالم!";
    let got = analyze(&reference(), text, SENTENCES)
        .await
        .expect("analysis");
    let slices: Vec<String> = got
        .spans
        .iter()
        .map(|s| slice_chars(text, s.begin, s.end))
        .collect();
    assert_eq!(
        slices,
        [
            "Great 👍🏽 day, I love it.",
            "Cafe\u{301} au lait is good.",
            "שלום עולם.",
            "مرحبا بالعالم!"
        ]
    );
    // 24 characters (the emoji and its skin-tone modifier count one each), then CRLF.
    assert_eq!((got.spans[0].begin, got.spans[0].end), (0, 24));
    assert_eq!(got.spans[1].begin, 26);
    assert!(got.spans[0].reading.valence > 0.3);
    assert_eq!(got.spans.last().map(|s| s.end), Some(text.chars().count()));
}

#[tokio::test(flavor = "multi_thread")]
async fn empty_and_blank_text_fail_with_text_empty() {
    let text = reference();
    for blank in ["", "   ", "\r\n\t \u{3000}"] {
        assert_eq!(
            input_code(analyze(&text, blank, SENTENCES).await),
            "text_empty",
            "{blank:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn text_over_the_limit_fails_with_text_too_long() {
    let text = common::pipeline(
        "repository",
        TextOptions {
            limits: TextLimits { max_bytes: 16 },
            ..TextOptions::default()
        },
    );
    let code = input_code(analyze(&text, "seventeen bytes!!", DOCUMENT).await);
    assert_eq!(code, "text_too_long");
    assert!(analyze(&text, "sixteen bytes!!!", DOCUMENT).await.is_ok());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_long_document_is_split_with_overlap_and_merged_into_one_span() {
    // 60 sentences of 6 tokens: 360 tokens, about 3 chunks of 128 sharing 16 tokens.
    let text = "What a wonderful and happy day. ".repeat(60);
    let got = analyze(&reference(), &text, DOCUMENT)
        .await
        .expect("analysis");
    assert_eq!(got.spans.len(), 1);
    let span = &got.spans[0];
    assert_eq!((span.begin, span.end), (0, text.trim_end().chars().count()));
    let chunks = got.batch_sizes.len();
    // ceil((360 - 16) / (128 - 16)) = 4 chunks; without overlap it would be 3.
    assert_eq!(chunks, 4, "chunks of a 360-token span");
    assert!(span.reading.valence > 0.5, "{:?}", span.reading);
}

/// With a batching delay the lane waits for company, so a burst shares runs. (The bundled
/// manifest's delay is 0: a run of this model takes microseconds, so a burst then runs about as
/// it arrives from the tokenizers, and waiting would only add latency.)
#[tokio::test(flavor = "multi_thread")]
async fn a_thousand_texts_at_once_are_batched() {
    let overrides = BatchOverrides {
        max_batch: None,
        max_delay: Some(Duration::from_millis(50)),
    };
    let text = pipeline_with("repository", overrides, TextOptions::default());
    // Tags like "r86" keep the texts distinct without adding lexicon words (VADER lists "86").
    let inputs: Vec<String> = (0..1000)
        .map(|i| match i % 3 {
            0 => format!("I love this, r{i} is wonderful :)"),
            1 => format!("This is terrible and I hate r{i}."),
            _ => format!("The meeting r{i} is at 3pm."),
        })
        .collect();
    let cancel = CancelToken::new();
    let results = futures::future::join_all(
        inputs
            .iter()
            .map(|t| text.analyze(t.clone(), DOCUMENT, false, &cancel)),
    )
    .await;
    let mut largest = 0;
    for (i, r) in results.into_iter().enumerate() {
        let r = r.expect("analysis");
        largest = largest.max(r.batch_sizes[0]);
        let v = r.spans[0].reading.valence;
        match i % 3 {
            0 => assert!(v > 0.5, "{i}: {v}"),
            1 => assert!(v < -0.5, "{i}: {v}"),
            _ => assert!(v.abs() < 0.1, "{i}: {v}"),
        }
    }
    let stats = text.lanes()[0].stats();
    let runs = stats.runs.load(Ordering::Relaxed);
    eprintln!("1000 texts: {runs} runs, largest batch {largest}");
    assert_eq!(stats.items.load(Ordering::Relaxed), 1000);
    assert!(runs <= 100, "{runs} session runs for 1000 texts");
    assert!(largest >= 32, "largest batch {largest}");
}
