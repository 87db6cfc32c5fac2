//! Which segments the writer merges: tantivy's log-structured policy, except that
//! no merge builds a segment of more than a given number of documents.
//!
//! A merge keeps the merged segment's term information in memory until it ends,
//! and scoped terms (each word once per owner) make that large: the process grew
//! by ~200 MB while merging eight segments into one of ~540,000 contacts. Capping
//! the merged size bounds that peak however large the index grows, at the price of
//! more segments for each search to visit (one per cap's worth of documents).

use ::tantivy::{
    index::{SegmentId, SegmentMeta},
    indexer::{LogMergePolicy, MergeCandidate, MergePolicy},
};

/// [`LogMergePolicy`] with merges of at most `max_docs` documents.
#[derive(Debug)]
pub struct CappedMerges {
    log: LogMergePolicy,
    max_docs: u32,
}

impl CappedMerges {
    pub fn new(max_docs: u32) -> Self {
        let mut log = LogMergePolicy::default();
        // Two segments of more than half the cap could not be merged together:
        // they are left as they are rather than counted in their level.
        log.set_max_docs_before_merge(max_docs as usize / 2);
        Self { log, max_docs }
    }
}

impl MergePolicy for CappedMerges {
    fn compute_merge_candidates(&self, segments: &[SegmentMeta]) -> Vec<MergeCandidate> {
        self.log
            .compute_merge_candidates(segments)
            .into_iter()
            .flat_map(|candidate| {
                let sized = candidate.0.into_iter().filter_map(|id| {
                    let segment = segments.iter().find(|segment| segment.id() == id)?;
                    Some((segment.num_docs(), id))
                });
                within(sized, self.max_docs)
            })
            .collect()
    }
}

/// The segments (with their numbers of documents) in groups of at most
/// `max_docs` documents, filled largest first; a segment left alone in its group
/// is not merged.
fn within(segments: impl Iterator<Item = (u32, SegmentId)>, max_docs: u32) -> Vec<MergeCandidate> {
    let mut segments: Vec<(u32, SegmentId)> = segments.collect();
    segments.sort_unstable_by_key(|&(docs, _)| std::cmp::Reverse(docs));
    let mut groups: Vec<(u32, Vec<SegmentId>)> = Vec::new();
    for (docs, id) in segments {
        match groups
            .iter_mut()
            .find(|(total, _)| total.saturating_add(docs) <= max_docs)
        {
            Some((total, ids)) => {
                *total += docs;
                ids.push(id);
            }
            None => groups.push((docs, vec![id])),
        }
    }
    groups
        .into_iter()
        .filter(|(_, ids)| ids.len() > 1)
        .map(|(_, ids)| MergeCandidate(ids))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segments(sizes: &[u32]) -> Vec<(u32, SegmentId)> {
        sizes
            .iter()
            .map(|&docs| (docs, SegmentId::generate_random()))
            .collect()
    }

    fn merged_sizes(segments: &[(u32, SegmentId)], max_docs: u32) -> Vec<Vec<u32>> {
        within(segments.iter().copied(), max_docs)
            .into_iter()
            .map(|candidate| {
                candidate
                    .0
                    .iter()
                    .map(|id| segments.iter().find(|(_, s)| s == id).unwrap().0)
                    .collect()
            })
            .collect()
    }

    #[test]
    fn a_level_too_large_for_one_merge_is_merged_in_groups_under_the_cap() {
        let level = segments(&[68_000; 8]);

        let merges = merged_sizes(&level, 150_000);

        assert_eq!(merges, vec![vec![68_000, 68_000]; 4]);
    }

    #[test]
    fn a_level_under_the_cap_is_merged_whole() {
        let level = segments(&[8_600; 8]);

        assert_eq!(merged_sizes(&level, 150_000), vec![vec![8_600; 8]]);
    }

    #[test]
    fn a_segment_that_fits_with_no_other_is_left_alone() {
        let level = segments(&[100_000, 90_000, 40_000]);

        assert_eq!(merged_sizes(&level, 150_000), vec![vec![100_000, 40_000]]);
    }
}
