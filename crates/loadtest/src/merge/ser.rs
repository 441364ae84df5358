//! How a [`Recorder`] is written to `histograms.json`: counts as numbers,
//! every HdrHistogram in the hdrhistogram crate's V2 format
//! (deflate-compressed), base64 ([`b64`], used by `stats`' serde
//! attributes). Exact: a histogram read back has the same counts at the same
//! values, so shards' histograms add up to what one process would have
//! recorded.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hdrhistogram::serialization::{
    Deserializer as HdrDeserializer, Serializer as _, V2DeflateSerializer,
};
use hdrhistogram::Histogram;
use serde::{Deserialize, Deserializer};

use crate::stats::Group;
#[cfg(test)]
use crate::stats::Recorder;

/// A histogram in V2 deflate format, base64.
pub fn encode<T: hdrhistogram::Counter>(h: &Histogram<T>) -> String {
    let mut buf = Vec::new();
    V2DeflateSerializer::new()
        .serialize(h, &mut buf)
        .expect("a histogram serialises into memory");
    STANDARD.encode(buf)
}

/// The inverse of [`encode`]; `what` names the histogram in the error.
pub fn decode<T: hdrhistogram::Counter>(s: &str, what: &str) -> Result<Histogram<T>, String> {
    let bytes = STANDARD
        .decode(s)
        .map_err(|e| format!("{what}: not base64: {e}"))?;
    HdrDeserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(|e| format!("{what}: not an HdrHistogram V2 histogram: {e:?}"))
}

/// `#[serde(with = "crate::merge::ser::b64")]` for a histogram field.
pub mod b64 {
    use hdrhistogram::{Counter, Histogram};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<T: Counter, S: Serializer>(h: &Histogram<T>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::encode(h))
    }

    pub fn deserialize<'de, T: Counter, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Histogram<T>, D::Error> {
        let text = String::deserialize(d)?;
        super::decode(&text, "histogram").map_err(serde::de::Error::custom)
    }
}

/// The per-language groups, keyed by the corpus's `&'static` language names.
pub fn languages<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<&'static str, Group>, D::Error> {
    let read = BTreeMap::<String, Group>::deserialize(d)?;
    read.into_iter()
        .map(|(name, g)| Ok((corpus_language(&name).map_err(serde::de::Error::custom)?, g)))
        .collect()
}

/// The corpus's `&'static` name of language `name`.
pub fn corpus_language(name: &str) -> Result<&'static str, String> {
    crate::corpus::CORPUS
        .iter()
        .map(|p| p.language)
        .find(|l| *l == name)
        .ok_or_else(|| format!("unknown language `{name}` (not in this kiln's corpus)"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Complexity;
    use crate::stats::{Outcome, Sample};
    use std::time::Duration;

    fn sample(i: u64) -> Sample {
        Sample {
            language: if i.is_multiple_of(3) { "python" } else { "cpp" },
            complexity: Complexity::Medium,
            outcome: if i.is_multiple_of(7) {
                Outcome::Timeout
            } else {
                Outcome::Success
            },
            scheduled: Duration::from_millis(i * 10),
            latency: Duration::from_micros(1_000 + i * i * 37 % 900_000),
            service: Duration::from_micros(900 + i * 13 % 5_000),
            submit: Some(Duration::from_micros(200 + i)),
            // Some with stages, so that they go through the shard files too.
            stages: i.is_multiple_of(2).then(|| crate::analysis::StageSample {
                compile: Some(i as f64),
                cached: Some(i.is_multiple_of(4)),
                ..Default::default()
            }),
        }
    }

    fn record(r: &mut Recorder, i: u64) {
        r.sent(
            Duration::from_millis(i * 10),
            Duration::from_micros(i % 50),
            i.is_multiple_of(40),
        );
        r.record(&sample(i));
    }

    #[test]
    fn serialised_shards_merge_to_the_whole() {
        let (mut whole, mut a, mut b) = (
            Recorder::default(),
            Recorder::default(),
            Recorder::default(),
        );
        for i in 0..5_000 {
            record(&mut whole, i);
            record(if i.is_multiple_of(2) { &mut a } else { &mut b }, i);
        }
        whole.dropped(Duration::from_secs(3), "cpp", Complexity::Medium);
        b.dropped(Duration::from_secs(3), "cpp", Complexity::Medium);
        let round = |r: &Recorder| {
            let json = serde_json::to_string(r).unwrap();
            serde_json::from_str::<Recorder>(&json).unwrap()
        };
        let mut merged = round(&a);
        merged.merge(&round(&b));
        assert_eq!(
            (merged.sent, merged.late, merged.dropped),
            (whole.sent, whole.late, whole.dropped)
        );
        assert_eq!(merged.outcomes, whole.outcomes);
        assert_eq!(merged.all.latency, whole.all.latency);
        assert_eq!(merged.all.service, whole.all.service);
        assert_eq!(merged.lateness, whole.lateness);
        assert_eq!(merged.by_language["cpp"].dropped, 1);
        for (k, g) in &whole.by_language {
            assert_eq!(merged.by_language[k].latency, g.latency, "{k}");
            assert_eq!(merged.by_language[k].count, g.count, "{k}");
        }
        assert_eq!(merged.seconds.len(), whole.seconds.len());
        for (m, w) in merged.seconds.iter().zip(&whole.seconds) {
            assert_eq!(
                (m.sent, m.completed, m.errors),
                (w.sent, w.completed, w.errors)
            );
            assert_eq!(m.latency_ms, w.latency_ms);
        }
        assert_eq!(merged.max_lateness, whole.max_lateness);
        assert!(decode::<u64>("not base64!", "x")
            .unwrap_err()
            .contains("x: not base64"));
    }
}
