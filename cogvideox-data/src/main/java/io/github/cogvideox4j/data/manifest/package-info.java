/**
 * Dataset manifests: the layouts users already have for the reference CogVideoX trainers, read into one list of
 * {@link io.github.cogvideox4j.data.manifest.ManifestEntry} with every bad entry reported by file and line.
 *
 * <ul>
 *   <li>{@link io.github.cogvideox4j.data.manifest.DatasetManifest} — reads a folder or file, detects the layout;</li>
 *   <li>{@link io.github.cogvideox4j.data.manifest.ManifestLayout} — the layouts (two-file, caption pairs,
 *       metadata json/jsonl/csv, CogVideoX-Fun JSON list, SAT {@code videos/} + {@code labels/});</li>
 *   <li>{@link io.github.cogvideox4j.data.manifest.ManifestColumns} — column names for metadata files;</li>
 *   <li>{@link io.github.cogvideox4j.data.manifest.ManifestProblem} — a missing file, empty caption, duplicate or
 *       malformed line, with file and line;</li>
 *   <li>{@link io.github.cogvideox4j.data.manifest.ManifestException} — thrown when a caller demands a clean
 *       manifest.</li>
 * </ul>
 *
 * <p>Relative paths resolve against the folder of the manifest file that names them.
 */
package io.github.cogvideox4j.data.manifest;
