// Series identity: a metric's series are told apart by their label set.

/** A canonical key for a label set: the same labels in any order give the same key. */
export function labelsKey(labels) {
  const names = Object.keys(labels || {}).sort();
  return names.map((name) => `${name}=${JSON.stringify(labels[name])}`).join(',');
}

/** What a legend shows: `cpu="0", mode="user"`, or the metric itself without labels. */
export function seriesName(metric, labels) {
  const names = Object.keys(labels || {}).sort();
  if (names.length === 0) return metric;
  return names.map((name) => `${name}="${labels[name]}"`).join(', ');
}
