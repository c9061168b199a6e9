package io.github.cogvideox4j.data.manifest;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.common.base.Preconditions;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The items of a dataset, read from one of the layouts users already have ({@link ManifestLayout}), and the
 * problems found while reading.
 *
 * <p>Reading never stops at a bad entry: a missing file, an empty caption, a duplicate or a malformed line is
 * recorded as a {@link ManifestProblem} (file and 1-based line) and left out of {@link #entries()}; a warning
 * summarises the count. Call {@link #requireNoProblems()} to turn any problem into an exception. Relative paths
 * resolve against the folder of the file that names them (Fun JSON: optionally an explicit data root, like its
 * {@code --train_data_dir}).
 *
 * <p>Line pairing of the two-file layout: line <i>i</i> of the caption file goes with line <i>i</i> of the video
 * file; a line blank in both is skipped, a line blank in only one is reported (the reference trainers drop blank
 * lines of each file before pairing, which silently shifts every later pair when only one file has one).
 *
 * <p>Thread safety: immutable after reading.
 */
public final class DatasetManifest {
    private static final Logger LOG = LoggerFactory.getLogger(DatasetManifest.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final List<String> CAPTION_FILES = List.of("prompt.txt", "prompts.txt", "caption.txt",
            "captions.txt");
    private static final List<String> VIDEO_FILES = List.of("videos.txt", "video.txt");
    private static final List<String> METADATA_FILES = List.of("metadata.jsonl", "metadata.json", "metadata.csv");

    private final Path root;
    private final ManifestLayout layout;
    private final List<ManifestEntry> entries;
    private final List<ManifestProblem> problems;

    DatasetManifest(Path root, ManifestLayout layout, List<ManifestEntry> entries, List<ManifestProblem> problems) {
        this.root = Objects.requireNonNull(root, "root");
        this.layout = Objects.requireNonNull(layout, "layout");
        this.entries = List.copyOf(entries);
        this.problems = List.copyOf(problems);
        if (!problems.isEmpty()) {
            LOG.warn("{} ({}): {} entries, {} problems; first: {}", root, layout, entries.size(), problems.size(),
                    problems.get(0));
        }
    }

    /**
     * Reads a dataset folder or manifest file with the default metadata columns, detecting the layout.
     *
     * @param path a folder or a manifest file
     * @return the manifest
     * @throws IOException if a file cannot be read
     * @throws ManifestException if no layout is recognised
     * @see #read(Path, ManifestColumns)
     */
    public static DatasetManifest read(Path path) throws IOException {
        return read(path, ManifestColumns.defaults());
    }

    /**
     * Reads a dataset folder or manifest file, detecting the layout.
     *
     * <p>A file: {@code .jsonl}, {@code .csv} → metadata; {@code .json} → the Fun JSON list when its first record
     * has {@code file_path} and {@code columns} are the defaults, else metadata. A folder, in this order:
     * {@code metadata.jsonl|json|csv}; a caption file ({@code prompt(s).txt}, {@code caption(s).txt}) with a
     * video file ({@code video(s).txt}); SAT ({@code videos/} and {@code labels/} sub-folders); caption pairs.
     *
     * @param path a folder or a manifest file
     * @param columns metadata column names
     * @return the manifest
     * @throws IOException if a file cannot be read
     * @throws ManifestException if no layout is recognised
     */
    public static DatasetManifest read(Path path, ManifestColumns columns) throws IOException {
        Objects.requireNonNull(path, "path");
        Objects.requireNonNull(columns, "columns");
        if (Files.isRegularFile(path)) {
            String name = path.getFileName().toString().toLowerCase(Locale.ROOT);
            if (name.endsWith(".json") && columns.equals(ManifestColumns.defaults()) && looksLikeFun(path)) {
                return readFunJson(path, path.toAbsolutePath().getParent());
            }
            return readMetadata(path, columns);
        }
        if (!Files.isDirectory(path)) {
            throw new java.nio.file.NoSuchFileException(path.toString());
        }
        for (String m : METADATA_FILES) {
            if (Files.isRegularFile(path.resolve(m))) {
                return read(path.resolve(m), columns);
            }
        }
        Optional<Path> captions = first(path, CAPTION_FILES);
        Optional<Path> videos = first(path, VIDEO_FILES);
        if (captions.isPresent() && videos.isPresent()) {
            Path images = path.resolve("images.txt");
            return readTwoFile(captions.get(), videos.get(),
                    Files.isRegularFile(images) ? Optional.of(images) : Optional.empty());
        }
        if (Files.isDirectory(path.resolve("videos")) && Files.isDirectory(path.resolve("labels"))) {
            return readSat(path);
        }
        DatasetManifest pairs = readCaptionPairs(path);
        if (pairs.entries.isEmpty() && pairs.problems.isEmpty()) {
            throw new ManifestException(path + ": no dataset layout recognised; expected metadata.jsonl|json|csv, "
                    + "prompt(s).txt or caption(s).txt with video(s).txt, videos/ with labels/, or caption files "
                    + "next to media files (a.txt + a.mp4)", List.of());
        }
        return pairs;
    }

    /**
     * Reads the two-file layout: captions and media paths on matching lines, optional I2V images likewise.
     *
     * @param captionFile {@code prompt.txt} or similar
     * @param videoFile {@code videos.txt} or similar (paths relative to its folder)
     * @param imageFile optional {@code images.txt} (paths relative to its folder)
     * @return the manifest (layout {@link ManifestLayout#TWO_FILE}); problems are reported against the media file
     *     list's line, or the caption file's line for an empty caption
     * @throws IOException if a file cannot be read
     */
    public static DatasetManifest readTwoFile(Path captionFile, Path videoFile, Optional<Path> imageFile)
            throws IOException {
        List<String> captions = lines(captionFile);
        List<String> videos = lines(videoFile);
        List<String> images = imageFile.isPresent() ? lines(imageFile.get()) : null;
        Path videoBase = videoFile.toAbsolutePath().getParent();
        Path imageBase = imageFile.map(p -> p.toAbsolutePath().getParent()).orElse(null);
        ManifestCollector c = new ManifestCollector();
        int n = Math.max(captions.size(), videos.size());
        for (int i = 0; i < n; i++) {
            int line = i + 1;
            String caption = i < captions.size() ? captions.get(i) : "";
            String video = i < videos.size() ? videos.get(i) : "";
            if (caption.isBlank() && video.isBlank()) {
                continue;
            }
            if (video.isBlank()) {
                c.problem(videoFile, line, ManifestProblem.Kind.MALFORMED, "no video path for the caption on line "
                        + line + " of " + captionFile.getFileName()
                        + (i >= videos.size() ? " (file has only " + videos.size() + " lines)" : ""));
                continue;
            }
            if (caption.isBlank()) {
                c.problem(captionFile, line, ManifestProblem.Kind.EMPTY_CAPTION, "empty caption for " + video.trim()
                        + " (line " + line + " of " + videoFile.getFileName() + ")");
                continue;
            }
            String image = null;
            if (images != null) {
                image = i < images.size() ? images.get(i) : "";
                if (image.isBlank()) {
                    c.problem(imageFile.get(), line, ManifestProblem.Kind.MALFORMED, "no image path for "
                            + video.trim() + " (line " + line + " of " + videoFile.getFileName() + ")");
                    continue;
                }
                image = imageBase.resolve(image.trim()).toString();
            }
            c.add(videoFile, line, videoBase, video, caption, Optional.empty(), image);
        }
        return c.build(videoFile.toAbsolutePath().getParent(), ManifestLayout.TWO_FILE);
    }

    /**
     * Reads caption/file pairs in one folder (not recursive): every media file {@code a.mp4} (or image) with
     * {@code a.txt}; the whole text file, trimmed, is the caption. A media file without caption file, and a
     * caption file without media file, are reported as {@link ManifestProblem.Kind#MISSING_FILE} at line 1.
     *
     * @param dir the folder
     * @return the manifest (layout {@link ManifestLayout#CAPTION_PAIRS}), entries in file-name order
     * @throws IOException if the folder or a file cannot be read
     */
    public static DatasetManifest readCaptionPairs(Path dir) throws IOException {
        List<Path> files;
        try (Stream<Path> s = Files.list(dir)) {
            files = s.filter(Files::isRegularFile).sorted(Comparator.comparing(p -> p.getFileName().toString()))
                    .collect(Collectors.toList());
        }
        Map<String, Path> captionsByStem = new HashMap<>();
        Map<String, Path> mediaByStem = new HashMap<>();
        for (Path f : files) {
            String name = f.getFileName().toString();
            if (name.toLowerCase(Locale.ROOT).endsWith(".txt")) {
                captionsByStem.put(stem(name), f);
            } else if (MediaType.fromExtension(f).isPresent()) {
                mediaByStem.putIfAbsent(stem(name), f);
            }
        }
        ManifestCollector c = new ManifestCollector();
        for (Path f : files) {
            String name = f.getFileName().toString();
            if (!MediaType.fromExtension(f).isPresent() || mediaByStem.get(stem(name)) != f) {
                continue;
            }
            Path captionFile = captionsByStem.get(stem(name));
            if (captionFile == null) {
                c.problem(dir.resolve(stem(name) + ".txt"), 1, ManifestProblem.Kind.MISSING_FILE,
                        "no caption file for " + name);
                continue;
            }
            String caption = Files.readString(captionFile, StandardCharsets.UTF_8);
            c.add(captionFile, 1, dir.toAbsolutePath(), name, caption, Optional.empty(), null);
        }
        for (Map.Entry<String, Path> e : captionsByStem.entrySet()) {
            if (!mediaByStem.containsKey(e.getKey())) {
                c.problem(e.getValue(), 1, ManifestProblem.Kind.MISSING_FILE, "no media file with stem '"
                        + e.getKey() + "'");
            }
        }
        return c.build(dir.toAbsolutePath(), ManifestLayout.CAPTION_PAIRS);
    }

    /**
     * Reads a metadata file: {@code .jsonl} (one object per line), {@code .json} (a list of objects) or
     * {@code .csv} (header row, then records; quoted fields may span lines). Paths resolve against the file's
     * folder.
     *
     * @param file the metadata file
     * @param columns column names
     * @return the manifest (layout {@link ManifestLayout#METADATA})
     * @throws IOException if the file cannot be read
     */
    public static DatasetManifest readMetadata(Path file, ManifestColumns columns) throws IOException {
        return readRecords(file, columns, file.toAbsolutePath().getParent(), ManifestLayout.METADATA);
    }

    /**
     * Reads a CogVideoX-Fun JSON list {@code [{"file_path", "text", "type": "video"|"image"}, ...]}.
     *
     * @param file the JSON file
     * @param dataRoot the folder relative {@code file_path}s resolve against (Fun's {@code --train_data_dir};
     *     usually the JSON file's folder)
     * @return the manifest (layout {@link ManifestLayout#FUN_JSON})
     * @throws IOException if the file cannot be read
     */
    public static DatasetManifest readFunJson(Path file, Path dataRoot) throws IOException {
        return readRecords(file, ManifestColumns.fun(), dataRoot.toAbsolutePath(), ManifestLayout.FUN_JSON);
    }

    /**
     * Reads SAT's layout: every video below {@code dir} whose path has a {@code videos} folder, with the caption
     * in the first line of the same path under {@code labels} (extension {@code .txt}).
     *
     * @param dir the data folder (walked recursively)
     * @return the manifest (layout {@link ManifestLayout#SAT}), entries in path order
     * @throws IOException if the folder or a label cannot be read
     */
    public static DatasetManifest readSat(Path dir) throws IOException {
        List<Path> videos;
        try (Stream<Path> s = Files.walk(dir)) {
            videos = s.filter(Files::isRegularFile)
                    .filter(p -> MediaType.fromExtension(p).orElse(null) == MediaType.VIDEO)
                    .filter(p -> labelPath(dir, p) != null).sorted().collect(Collectors.toList());
        }
        ManifestCollector c = new ManifestCollector();
        for (Path video : videos) {
            Path label = labelPath(dir, video);
            if (!Files.isRegularFile(label)) {
                c.problem(label, 1, ManifestProblem.Kind.MISSING_FILE, "no label file for " + video);
                continue;
            }
            List<String> lines = lines(label);
            String caption = lines.isEmpty() ? "" : lines.get(0);
            c.add(label, 1, dir.toAbsolutePath(), video.toAbsolutePath().toString(), caption,
                    Optional.of(MediaType.VIDEO), null);
        }
        return c.build(dir.toAbsolutePath(), ManifestLayout.SAT);
    }

    /** @return the folder or file the manifest was read from (absolute) */
    public Path root() {
        return root;
    }

    /** @return the layout that was read */
    public ManifestLayout layout() {
        return layout;
    }

    /** @return the sound entries in declaration order (immutable) */
    public List<ManifestEntry> entries() {
        return entries;
    }

    /** @return the problems in the order found (immutable) */
    public List<ManifestProblem> problems() {
        return problems;
    }

    /**
     * Returns this manifest if it has no problems.
     *
     * @return this
     * @throws ManifestException listing every problem as {@code file:line: KIND: detail}
     */
    public DatasetManifest requireNoProblems() {
        if (!problems.isEmpty()) {
            StringBuilder sb = new StringBuilder(root + " (" + layout + "): " + problems.size() + " bad entries:");
            for (ManifestProblem p : problems) {
                sb.append("\n  ").append(p);
            }
            throw new ManifestException(sb.toString(), problems);
        }
        return this;
    }

    @Override
    public String toString() {
        return "DatasetManifest[" + root + ", " + layout + ", " + entries.size() + " entries, " + problems.size()
                + " problems]";
    }

    // ---------------------------------------------------------------------------------------------------------

    private static DatasetManifest readRecords(Path file, ManifestColumns columns, Path base, ManifestLayout layout)
            throws IOException {
        Preconditions.checkNotNull(file, "file");
        String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
        ManifestCollector c = new ManifestCollector();
        if (name.endsWith(".csv")) {
            readCsv(file, columns, base, c);
        } else if (name.endsWith(".jsonl")) {
            List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
            for (int i = 0; i < lines.size(); i++) {
                if (lines.get(i).isBlank()) {
                    continue;
                }
                try {
                    record(c, file, i + 1, JSON.readTree(lines.get(i)), columns, base);
                } catch (JsonProcessingException e) {
                    c.problem(file, i + 1, ManifestProblem.Kind.MALFORMED, "bad JSON: " + e.getOriginalMessage());
                }
            }
        } else {
            readJsonList(file, columns, base, c);
        }
        return c.build(file.toAbsolutePath(), layout);
    }

    private static void readJsonList(Path file, ManifestColumns columns, Path base, ManifestCollector c)
            throws IOException {
        try (JsonParser p = JSON.getFactory().createParser(file.toFile())) {
            JsonToken t;
            try {
                t = p.nextToken();
            } catch (JsonProcessingException e) {
                c.problem(file, e.getLocation() == null ? 1 : e.getLocation().getLineNr(),
                        ManifestProblem.Kind.MALFORMED, "bad JSON: " + e.getOriginalMessage());
                return;
            }
            if (t != JsonToken.START_ARRAY) {
                c.problem(file, 1, ManifestProblem.Kind.MALFORMED, "expected a JSON list of objects");
                return;
            }
            try {
                while ((t = p.nextToken()) != JsonToken.END_ARRAY && t != null) {
                    int line = p.currentTokenLocation().getLineNr();
                    JsonNode node = JSON.readTree(p);
                    record(c, file, line, node, columns, base);
                }
            } catch (JsonProcessingException e) {
                c.problem(file, e.getLocation() == null ? 1 : e.getLocation().getLineNr(),
                        ManifestProblem.Kind.MALFORMED, "bad JSON (rest of file skipped): " + e.getOriginalMessage());
            }
        }
    }

    private static void record(ManifestCollector c, Path file, int line, JsonNode node, ManifestColumns columns,
            Path base) {
        if (node == null || !node.isObject()) {
            c.problem(file, line, ManifestProblem.Kind.MALFORMED, "expected a JSON object");
            return;
        }
        Map<String, String> fields = new HashMap<>();
        node.fields().forEachRemaining(e -> fields.put(e.getKey(), e.getValue().isValueNode()
                ? e.getValue().asText() : e.getValue().toString()));
        fromFields(c, file, line, fields, columns, base);
    }

    private static void readCsv(Path file, ManifestColumns columns, Path base, ManifestCollector c)
            throws IOException {
        List<CsvRecords.Row> rows;
        try {
            rows = CsvRecords.parse(Files.readString(file, StandardCharsets.UTF_8));
        } catch (CsvRecords.MalformedCsvException e) {
            c.problem(file, e.line(), ManifestProblem.Kind.MALFORMED, e.reason());
            return;
        }
        if (rows.isEmpty()) {
            return;
        }
        List<String> header = rows.get(0).fields().stream().map(String::trim).collect(Collectors.toList());
        for (CsvRecords.Row row : rows.subList(1, rows.size())) {
            if (row.fields().size() != header.size()) {
                c.problem(file, row.line(), ManifestProblem.Kind.MALFORMED, "expected " + header.size()
                        + " fields (header " + header + "), got " + row.fields().size());
                continue;
            }
            Map<String, String> fields = new HashMap<>();
            for (int i = 0; i < header.size(); i++) {
                fields.put(header.get(i), row.fields().get(i));
            }
            fromFields(c, file, row.line(), fields, columns, base);
        }
    }

    private static void fromFields(ManifestCollector c, Path file, int line, Map<String, String> fields,
            ManifestColumns columns, Path base) {
        String media = pick(fields, columns.fileColumns());
        if (media == null) {
            c.problem(file, line, ManifestProblem.Kind.MALFORMED, "no file column (tried "
                    + columns.fileColumns() + ")");
            return;
        }
        String caption = pick(fields, columns.captionColumns());
        Optional<MediaType> type = Optional.empty();
        if (columns.typeColumn().isPresent() && fields.containsKey(columns.typeColumn().get())) {
            String raw = fields.get(columns.typeColumn().get());
            type = MediaType.parse(raw);
            if (type.isEmpty()) {
                c.problem(file, line, ManifestProblem.Kind.MALFORMED, "type '" + raw + "' is neither video nor image");
                return;
            }
        }
        String image = columns.imageColumn().map(fields::get).orElse(null);
        c.add(file, line, base, media, caption, type, image);
    }

    private static String pick(Map<String, String> fields, List<String> names) {
        for (String n : names) {
            if (fields.containsKey(n)) {
                return fields.get(n);
            }
        }
        return null;
    }

    private static boolean looksLikeFun(Path file) throws IOException {
        try (JsonParser p = JSON.getFactory().createParser(file.toFile())) {
            if (p.nextToken() != JsonToken.START_ARRAY || p.nextToken() != JsonToken.START_OBJECT) {
                return false;
            }
            JsonNode first = JSON.readTree(p);
            return first.has("file_path") && !first.has("file_name");
        } catch (JsonProcessingException e) {
            return false;
        }
    }

    private static Optional<Path> first(Path dir, List<String> names) {
        return names.stream().map(dir::resolve).filter(Files::isRegularFile).findFirst();
    }

    /** Lines of a text file without line terminators (a trailing newline adds no line). */
    private static List<String> lines(Path file) throws IOException {
        List<String> lines = new ArrayList<>(Files.readAllLines(file, StandardCharsets.UTF_8));
        if (!lines.isEmpty() && lines.get(0).startsWith("\uFEFF")) {
            lines.set(0, lines.get(0).substring(1));
        }
        return lines;
    }

    private static String stem(String name) {
        int dot = name.lastIndexOf('.');
        return dot > 0 ? name.substring(0, dot) : name;
    }

    /** The SAT label for a video: its last {@code videos} folder replaced by {@code labels}, extension .txt. */
    private static Path labelPath(Path dir, Path video) {
        Path rel = dir.relativize(video);
        for (int i = rel.getNameCount() - 2; i >= 0; i--) {
            if (rel.getName(i).toString().equals("videos")) {
                Path labelRel = (i > 0 ? rel.subpath(0, i).resolve("labels") : Path.of("labels"))
                        .resolve(rel.subpath(i + 1, rel.getNameCount()));
                return dir.resolve(labelRel).resolveSibling(stem(video.getFileName().toString()) + ".txt");
            }
        }
        return null;
    }
}
