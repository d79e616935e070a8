//! Audio decoding (`soyl_models::voice::decode::decode`: WAV, FLAC, MP3, Ogg Vorbis, AAC in MP4)
//! then resampling to the voice model's 16 kHz: any bytes give samples within the limits or an
//! `InputError`, never a panic or an allocation past the limits.
#![no_main]

use libfuzzer_sys::fuzz_target;
use soyl_models::voice::decode::{decode, AudioLimits};
use soyl_models::voice::resample::resample;

fuzz_target!(|data: &[u8]| {
    let limits = AudioLimits {
        max_duration_s: 30.0,
        ..AudioLimits::default()
    };
    if let Ok(audio) = decode(data, &limits) {
        assert!(audio.channels <= limits.max_channels);
        let max = (limits.max_duration_s * f64::from(audio.sample_rate)).ceil() as usize;
        assert!(audio.samples.len() <= max, "{} samples", audio.samples.len());
        let _ = resample(audio.samples, audio.sample_rate, 16_000);
    }
});
