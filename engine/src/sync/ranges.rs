//! The key ranges of a merge: a condition on the target's key alone, added to the merge's
//! join condition, that every key of the push satisfies. deltalake takes it into its
//! early filter, so it (1) skips every file whose key statistics fall outside it (no row
//! of such a file can match a key of the push) and (2) is the commit's read predicate,
//! so another writer's commit that adds a file holding any of the push's keys conflicts
//! with this one and the push is redone.
//!
//! The push's keys, sorted, are cut into ranges wherever a whole file of the table lies
//! between two neighbours, so a push of keys that are close together (new records, the
//! recent ones) reads and rewrites only the files around them. Key texts order as text
//! (`"10" < "9"`), so numeric keys far apart can still fall in one file: that file is
//! read, and its rows kept, as without ranges.

use super::schema::KEY_TEXT;
use arrow::array::{Array, StringArray};
use deltalake::datafusion::prelude::{col, lit, Expr};
use deltalake::DeltaTable;

/// At most this many ranges (more would only make the condition longer to check).
const MAX_RANGES: usize = 64;

/// The smallest and largest key text of each data file of `table`; `None` when a file
/// has no statistics for the key (then no file can be skipped).
pub(super) fn file_key_ranges(table: &DeltaTable) -> Option<Vec<(String, String)>> {
    let snapshot = table.snapshot().ok()?;
    let files = snapshot.snapshot().add_actions_table(true).ok()?;
    let text = |name: &str| {
        let c = files.column_by_name(name)?;
        let c = arrow::compute::cast(c, &arrow_schema::DataType::Utf8).ok()?;
        Some(c.as_any().downcast_ref::<StringArray>()?.clone())
    };
    let (lo, hi) = (text(&format!("min.{KEY_TEXT}"))?, text(&format!("max.{KEY_TEXT}"))?);
    (0..files.num_rows())
        .map(|i| (lo.is_valid(i) && hi.is_valid(i)).then(|| (lo.value(i).to_owned(), hi.value(i).to_owned())))
        .collect()
}

/// The ranges covering `keys` (sorted, ascending): a new range starts wherever a file of
/// `files` lies strictly between two neighbouring keys. Without file statistics, one
/// range from the first key to the last.
pub(super) fn key_ranges(keys: &[&str], files: Option<&[(String, String)]>) -> Vec<(String, String)> {
    let Some((first, rest)) = keys.split_first() else { return Vec::new() };
    let mut by_min: Vec<&(String, String)> = files.map(|f| f.iter().collect()).unwrap_or_default();
    by_min.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    // lowest_max[i]: the smallest max of the files from i on (by min).
    let mut lowest_max: Vec<&str> = vec![""; by_min.len()];
    for i in (0..by_min.len()).rev() {
        let m = by_min[i].1.as_str();
        lowest_max[i] = if i + 1 < by_min.len() && lowest_max[i + 1] < m { lowest_max[i + 1] } else { m };
    }
    // Whether some file's keys all lie strictly between `a` and `b`.
    let file_between = |a: &str, b: &str| {
        let i = by_min.partition_point(|f| f.0.as_str() <= a);
        i < by_min.len() && lowest_max[i] < b
    };
    let mut out = vec![((*first).to_owned(), (*first).to_owned())];
    let mut prev = *first;
    for &k in rest {
        if out.len() < MAX_RANGES && file_between(prev, k) {
            out.push((k.to_owned(), k.to_owned()));
        } else {
            out.last_mut().expect("one range").1 = k.to_owned();
        }
        prev = k;
    }
    out
}

/// The key column `key` (`target._idb_key` in a merge) within one of `ranges` (true
/// when there are none).
pub(super) fn predicate(ranges: &[(String, String)], key: &str) -> Expr {
    let key = || col(key);
    ranges.iter().map(|(lo, hi)| key().between(lit(lo.clone()), lit(hi.clone()))).reduce(Expr::or).unwrap_or(lit(true))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(a: &str, b: &str) -> (String, String) {
        (a.to_owned(), b.to_owned())
    }

    #[test]
    fn keys_are_cut_where_a_whole_file_lies_between_them() {
        let files = vec![r("1", "188470"), r("188471", "276944"), r("276945", "985655"), r("985656", "999999")];
        let keys = ["1000000", "1000001", "1000100", "990001", "999911"];
        assert_eq!(
            key_ranges(&keys, Some(&files)),
            vec![r("1000000", "1000100"), r("990001", "999911")],
            "files 2 and 3 lie between 1000100 and 990001"
        );
        // A file overlapping both neighbours does not cut.
        assert_eq!(key_ranges(&["2", "3"], Some(&files)), vec![r("2", "3")]);
        assert_eq!(key_ranges(&["2", "3"], None), vec![r("2", "3")]);
        assert!(key_ranges(&[], Some(&files)).is_empty());
    }

    #[test]
    fn every_key_is_inside_a_range() {
        let files: Vec<(String, String)> =
            (0..40).map(|i| r(&format!("k{:03}", i * 10), &format!("k{:03}", i * 10 + 4))).collect();
        let mut keys: Vec<String> = (0..400).step_by(7).map(|i| format!("k{i:03}")).collect();
        keys.sort();
        let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
        let ranges = key_ranges(&refs, Some(&files));
        assert!(ranges.len() > 1 && ranges.len() <= MAX_RANGES);
        for k in &keys {
            assert!(ranges.iter().any(|(lo, hi)| lo <= k && k <= hi), "{k} outside every range");
        }
    }

    #[test]
    fn the_predicate_is_a_disjunction_of_ranges() {
        let p = predicate(&[r("a", "b"), r("x", "y")], "target._idb_key").to_string();
        assert!(p.contains("target._idb_key BETWEEN Utf8(\"a\") AND Utf8(\"b\") OR"), "{p}");
        assert_eq!(predicate(&[], "k"), lit(true));
    }
}
