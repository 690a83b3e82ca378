//! The index's lookups against a plain reading of their rule, on random members: several
//! stories, some out of the window, signatures drawn from few values so that bands are
//! shared across stories and by more members than a lookup looks at.

use super::*;
use crate::story::SIGNATURE_LEN;

/// xorshift64*: enough randomness for test data, and the same every run.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

struct Stored {
    id: i64,
    story: (i64, i64),
    keys: StoryKeys,
    bands: Vec<u64>,
}

/// A copy of `base` with each value replaced by a random one with `percent` chance.
fn mutated(rng: &mut Rng, base: &[u32; SIGNATURE_LEN], percent: u64) -> Fingerprint {
    let mut signature = *base;
    for value in &mut signature {
        if rng.chance(percent) {
            *value = rng.below(6) as u32;
        }
    }
    Fingerprint(signature)
}

/// Keys near one of `bases` (its index is returned), with a URL or title key from
/// `key_values` values now and then.
fn random_keys(
    rng: &mut Rng,
    bases: &[[u32; SIGNATURE_LEN]],
    key_values: u64,
) -> (usize, StoryKeys) {
    let base_idx = rng.below(bases.len() as u64) as usize;
    let percent = [10, 40, 70, 100][rng.below(4) as usize];
    let keys = StoryKeys {
        url: rng.chance(10).then(|| rng.below(key_values)),
        title: rng.chance(10).then(|| rng.below(key_values)),
        fingerprint: rng
            .chance(95)
            .then(|| mutated(rng, &bases[base_idx], percent)),
    };
    (base_idx, keys)
}

/// The rule as `find` documents it, read plainly: the newest members with the URL, else
/// the title (at most MAX_PER_BAND, in the window), the latest first seen; else, of the
/// newest MAX_PER_BAND members in the window of each band, the most similar at or above
/// the threshold, then the latest first seen, then the highest id.
fn reference(stored: &[Stored], keys: &StoryKeys, window_start: i64) -> Option<(i64, i64)> {
    let in_window = |member: &&Stored| member.story.1 >= window_start;
    for key in [
        keys.url.map(|url| (0, url)),
        keys.title.map(|title| (1, title)),
    ] {
        let Some((kind, key)) = key else { continue };
        let with_key = |member: &&Stored| match kind {
            0 => member.keys.url == Some(key),
            _ => member.keys.title == Some(key),
        };
        if let Some(member) = stored
            .iter()
            .rev()
            .filter(with_key)
            .filter(in_window)
            .take(MAX_PER_BAND)
            .max_by_key(|member| (member.story.1, member.id))
        {
            return Some(member.story);
        }
    }
    let fingerprint = keys.fingerprint.as_ref()?;
    let mut seen = std::collections::HashSet::new();
    let mut best: Option<(f64, i64, i64, (i64, i64))> = None;
    for band in fingerprint.band_keys() {
        let newest = stored
            .iter()
            .rev()
            .filter(|member| member.bands.contains(&band))
            .filter(in_window)
            .take(MAX_PER_BAND);
        for member in newest {
            if !seen.insert(member.id) {
                continue;
            }
            let signature = member
                .keys
                .fingerprint
                .as_ref()
                .expect("a member with bands");
            let similarity = fingerprint.similarity(signature);
            if similarity < JOIN_SIMILARITY {
                continue;
            }
            let candidate = (similarity, member.story.1, member.id, member.story);
            if best.is_none_or(|best| {
                (candidate.0, candidate.1, candidate.2) > (best.0, best.1, best.2)
            }) {
                best = Some(candidate);
            }
        }
    }
    best.map(|(_, _, _, story)| story)
}

/// Which stories a round's members are of.
enum Layout {
    /// Stories 1 to n, drawn at random.
    Random(u64),
    /// The story of the base the member's signature is near: most band lists are of one
    /// story, and the windows leave some of those stories out.
    PerBase,
    /// The older half of the members of story 6, first seen last, the rest of stories 1
    /// to 3: which members a lookup looks at (the newest) decides its answer.
    OldInLatest,
}

#[test]
fn lookups_follow_the_rule() {
    // (layout, the number of values URL and title keys are drawn from: with 2, more members
    // share one than a lookup looks at)
    let rounds = [
        // One or two stories: the cases a lookup answers early.
        (Layout::Random(1), 40),
        (Layout::Random(2), 40),
        (Layout::Random(6), 40),
        (Layout::PerBase, 40),
        (Layout::PerBase, 2),
        (Layout::Random(6), 2),
        (Layout::OldInLatest, 2),
    ];
    for seed in [0x9e37_79b9_7f4a_7c15, 0x2545_f491_4f6c_dd1d, 42] {
        let mut rng = Rng(seed);
        for (round_idx, (layout, key_values)) in rounds.iter().enumerate() {
            let bases: Vec<[u32; SIGNATURE_LEN]> = (0..4)
                .map(|_| std::array::from_fn(|_| rng.below(6) as u32))
                .collect();
            // Stories 1 to 6, two of them first seen at one moment; the windows below
            // leave some out.
            let first_seen = [100, 200, 200, 300, 400, 500];
            let mut built = Built::empty(0);
            let mut stored = Vec::new();
            for id in 1..=1500 {
                let (base_idx, keys) = random_keys(&mut rng, &bases, *key_values);
                let story_id = match layout {
                    Layout::Random(stories) => 1 + rng.below(*stories) as i64,
                    Layout::PerBase => 1 + base_idx as i64,
                    Layout::OldInLatest if id <= 750 => 6,
                    Layout::OldInLatest => 1 + rng.below(3) as i64,
                };
                let story = (story_id, first_seen[story_id as usize - 1]);
                built.add(id, story.0, story.1, &keys);
                let bands = keys
                    .fingerprint
                    .as_ref()
                    .map(|fingerprint| fingerprint.band_keys().collect())
                    .unwrap_or_default();
                stored.push(Stored {
                    id,
                    story,
                    keys,
                    bands,
                });
            }
            let mut joined = 0;
            for _ in 0..400 {
                let (_, keys) = random_keys(&mut rng, &bases, *key_values);
                let window_start = [0, 150, 250, 450][rng.below(4) as usize];
                let expected = reference(&stored, &keys, window_start);
                assert_eq!(
                    built.find(&keys, window_start),
                    expected,
                    "seed {seed}, round {round_idx}: {keys:?}"
                );
                joined += usize::from(expected.is_some());
            }
            // The data exercises both answers.
            assert!(
                (20..380).contains(&joined),
                "seed {seed}, round {round_idx}: {joined} of 400 joined"
            );
        }
    }
}
