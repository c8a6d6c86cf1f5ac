/*
 * ChurnLens uploader: streams a chosen or dropped data file to POST /upload.
 *
 * The File object itself is the request body (the browser reads it from disk as it sends),
 * so a file of hundreds of MB is never held whole in the page, as dcc.Upload's base64 is.
 *
 * A page may have several uploaders. Each is a drop zone that names its parts in data
 * attributes; any it leaves out default to the Data page's ids (dashboard/uploads.py), so
 * the Data page's markup works as it is. Dash may render the markup at any time, so every
 * listener is on `document`.
 *   the drop zone          any element with class "upload-drop" or a data-upload-store
 *                          attribute (or the id data-upload-drop): role="button",
 *                          tabindex="0", data-max-bytes, data-accept (".csv,.tsv,..."),
 *                          optional data-upload-url. Click, Enter or Space opens the file
 *                          picker; a file dropped on it is uploaded. While a file is dragged
 *                          over it, it has the class "upload-dragover"; while uploading,
 *                          aria-busy="true".
 *   data-upload-store      the id of the dcc.Store that receives {file, name, bytes, error,
 *                          at} through dash_clientside.set_props (`at`: ms since the epoch,
 *                          so a repeated result is a change too). Default data-upload-store.
 *   data-upload-progress   the id of a Bootstrap .progress with a .progress-bar child: "37% ·
 *                          74 of 200 MB", then green when stored, red with the message on
 *                          failure. Default data-upload-progress.
 *   data-upload-input      the id of the native <input type="file">; created hidden in
 *                          document.body (outside React's tree) unless the page renders one.
 *                          Default data-upload-input (zones may share one).
 *   data-upload-cancel     the id of an optional button that aborts this zone's upload.
 *                          Default data-upload-cancel.
 * One upload at a time per store; uploaders with different stores work side by side.
 * Refusals made here (empty, too large, a type not accepted) use the server's words.
 */
(function () {
    "use strict";

    var DROP_ID = "data-upload-drop";
    var INPUT_ID = "data-upload-input";
    var PROGRESS_ID = "data-upload-progress";
    var CANCEL_ID = "data-upload-cancel";
    var STORE_ID = "data-upload-store";
    var DEFAULT_ACCEPT = [".csv", ".tsv", ".txt", ".xlsx", ".xlsm", ".parquet"];
    var MB = 1024 * 1024;
    var DRAGOVER = "upload-dragover";
    var BAR_STATES = ["bg-success", "bg-danger", "progress-bar-striped", "progress-bar-animated"];
    var ZONES = ".upload-drop, [data-upload-store], #" + DROP_ID;

    var inFlight = {};       // store id -> {xhr, zone}: one upload at a time per store
    var pickerZone = null;   // the zone whose file picker was opened last

    // ----- a zone's parts -------------------------------------------------------------------

    function partOf(zone, attribute, fallback) {
        var id = zone.getAttribute(attribute);
        return id && id.trim() ? id.trim() : fallback;
    }

    function storeOf(zone) { return partOf(zone, "data-upload-store", STORE_ID); }
    function progressOf(zone) { return partOf(zone, "data-upload-progress", PROGRESS_ID); }
    function inputOf(zone) { return partOf(zone, "data-upload-input", INPUT_ID); }
    function cancelOf(zone) { return partOf(zone, "data-upload-cancel", CANCEL_ID); }

    function zones() { return Array.prototype.slice.call(document.querySelectorAll(ZONES)); }

    function zoneOf(target) {
        return target && target.closest ? target.closest(ZONES) : null;
    }

    function busy(zone) { return !!inFlight[storeOf(zone)]; }

    function within(target, id) {
        for (var el = target; el; el = el.parentElement) {
            if (el.id === id) { return true; }
        }
        return false;
    }

    // ----- the server's wording (dashboard/uploads.py) ---------------------------------

    function sizeText(n) {
        if (n >= MB) { return (n / MB).toFixed(1).replace(/\.0$/, "") + " MB"; }
        if (n >= 1024) { return (n / 1024).toFixed(1).replace(/\.0$/, "") + " KB"; }
        return n + " bytes";
    }

    function tooLargeMessage(maxBytes) {
        return "the file is larger than the " + sizeText(maxBytes) + " limit";
    }

    function extensionMessage(accept) {
        var shown = accept.length > 1
            ? accept.slice(0, -1).join(", ") + " or " + accept[accept.length - 1]
            : accept.join("");
        return "only " + shown + " files can be uploaded";
    }

    function acceptOf(zone) {
        var raw = zone.getAttribute("data-accept");
        if (!raw) { return DEFAULT_ACCEPT; }
        return raw.split(",").map(function (s) { return s.trim().toLowerCase(); })
            .filter(function (s) { return s; });
    }

    function maxBytesOf(zone) {
        var n = parseInt(zone.getAttribute("data-max-bytes"), 10);
        return isFinite(n) && n > 0 ? n : null;
    }

    function extensionOf(name) {
        // As the server does: accents folded to ASCII, the part after the last dot.
        var ascii = String(name).normalize("NFKD").replace(/[^\x00-\x7f]/g, "");
        var base = ascii.split(/[\\/]/).pop();
        var dot = base.lastIndexOf(".");
        return dot < 0 ? "" : base.slice(dot).toLowerCase();
    }

    function refusal(zone, file) {
        var accept = acceptOf(zone);
        if (accept.indexOf(extensionOf(file.name)) < 0) { return extensionMessage(accept); }
        var maxBytes = maxBytesOf(zone);
        if (maxBytes !== null && file.size > maxBytes) { return tooLargeMessage(maxBytes); }
        if (file.size === 0) { return "the file is empty"; }
        return null;
    }

    // ----- where to, and the answer ------------------------------------------------------

    function uploadUrl(zone) {
        var explicit = zone.getAttribute("data-upload-url");
        if (explicit) { return explicit; }
        var prefix = "/";
        var config = document.getElementById("_dash-config");
        if (config) {
            try {
                prefix = JSON.parse(config.textContent).requests_pathname_prefix || "/";
            } catch (e) { prefix = "/"; }
        }
        return prefix.replace(/\/?$/, "/") + "upload";
    }

    function serverMessage(xhr) {
        var text = xhr.responseText || "";
        try {
            var body = JSON.parse(text);
            if (body && typeof body.error === "string") { return body.error; }
        } catch (e) { /* not JSON: a proxy's or the server's plain-text answer */ }
        text = text.replace(/\s+/g, " ").trim();
        if (text && text.length <= 200 && text.charAt(0) !== "<") { return text; }
        return "the upload failed (HTTP " + xhr.status + ")";
    }

    function report(storeId, data) {
        var dc = window.dash_clientside;
        if (!dc || typeof dc.set_props !== "function") { return; }
        var api = window.dash_component_api;
        if (api && typeof api.getLayout === "function" && !api.getLayout(storeId)) {
            return;  // the page with the store is no longer shown
        }
        dc.set_props(storeId, {data: data});
    }

    // ----- the progress bar --------------------------------------------------------------

    function progressBar(progressId) {
        var outer = document.getElementById(progressId);
        if (!outer) { return null; }
        var bar = outer.querySelector(".progress-bar");
        if (!bar) {
            bar = document.createElement("div");
            bar.className = "progress-bar";
            outer.appendChild(bar);
        }
        // The ARIA progressbar: the element the page gave that role (Bootstrap 5.3 puts it
        // on .progress, older markup on .progress-bar), else the outer element.
        var aria = outer.getAttribute("role") === "progressbar" ? outer
            : outer.querySelector("[role='progressbar']") || outer;
        aria.setAttribute("role", "progressbar");
        if (!aria.getAttribute("aria-label")) { aria.setAttribute("aria-label", "Upload"); }
        aria.setAttribute("aria-valuemin", "0");
        aria.setAttribute("aria-valuemax", "100");
        return {aria: aria, bar: bar};
    }

    function showBar(zone, percent, text, state) {
        var parts = progressBar(progressOf(zone));
        if (!parts) { return; }
        BAR_STATES.forEach(function (c) { parts.bar.classList.remove(c); });
        (state || []).forEach(function (c) { parts.bar.classList.add(c); });
        parts.bar.style.width = percent + "%";
        parts.bar.textContent = text;
        parts.aria.setAttribute("aria-valuenow", String(percent));
        parts.aria.setAttribute("aria-valuetext", text);
    }

    function amounts(loaded, total) {
        var digits = total >= 10 * MB ? 0 : 1;
        return (loaded / MB).toFixed(digits) + " of " + (total / MB).toFixed(digits) + " MB";
    }

    function showProgress(zone, loaded, total) {
        var percent = total > 0 ? Math.min(100, Math.floor(loaded * 100 / total)) : 0;
        showBar(zone, percent, percent + "% · " + amounts(loaded, total),
                ["progress-bar-striped", "progress-bar-animated"]);
    }

    function showFailure(zone, message) {
        showBar(zone, 100, message.charAt(0).toUpperCase() + message.slice(1), ["bg-danger"]);
    }

    // ----- the upload ----------------------------------------------------------------------

    function finish(zone, storeId, data) {
        delete inFlight[storeId];
        zone.removeAttribute("aria-busy");
        if (data.error) { showFailure(zone, data.error); } else {
            showBar(zone, 100, "100% · " + sizeText(data.bytes) + " uploaded", ["bg-success"]);
        }
        data.at = Date.now();  // the same refusal twice is still news to the page's callback
        report(storeId, data);
    }

    function upload(zone, file) {
        if (busy(zone)) { return; }
        var storeId = storeOf(zone);  // read once: the answer goes where the upload started
        var refused = refusal(zone, file);
        if (refused) {
            finish(zone, storeId, {file: null, name: file.name, bytes: file.size,
                                   error: refused});
            return;
        }
        var xhr = new XMLHttpRequest();
        inFlight[storeId] = {xhr: xhr, zone: zone};
        zone.setAttribute("aria-busy", "true");
        var failed = function (message) {
            finish(zone, storeId, {file: null, name: file.name, bytes: file.size,
                                   error: message});
        };
        xhr.open("POST", uploadUrl(zone) + "?name=" + encodeURIComponent(file.name));
        xhr.setRequestHeader("Content-Type", "application/octet-stream");
        xhr.upload.onprogress = function (event) {
            showProgress(zone, event.loaded, event.lengthComputable ? event.total : file.size);
        };
        xhr.onload = function () {
            var body = null;
            try { body = JSON.parse(xhr.responseText); } catch (e) { body = null; }
            if (xhr.status === 200 && body && typeof body.file === "string") {
                finish(zone, storeId, {file: body.file, name: body.name, bytes: body.bytes,
                                       error: null});
            } else {
                failed(serverMessage(xhr));
            }
        };
        xhr.onerror = function () { failed("the upload failed: the server could not be reached"); };
        xhr.onabort = function () { failed("the upload was cancelled"); };
        showProgress(zone, 0, file.size);
        xhr.send(file);
    }

    // ----- the file inputs and the drop zones ---------------------------------------------

    function fileInput(id) {
        var input = document.getElementById(id);
        if (!input && document.body) {
            input = document.createElement("input");
            input.type = "file";
            input.id = id;
            input.hidden = true;
            input.tabIndex = -1;
            input.setAttribute("aria-hidden", "true");
            document.body.appendChild(input);
        }
        return input;
    }

    // Every zone's input exists as soon as the zone does (a test or a page may fill it in
    // without a click); the Data page's default input always exists.
    function ensureInputs() {
        fileInput(INPUT_ID);
        zones().forEach(function (zone) { fileInput(inputOf(zone)); });
    }

    function isPicker(target) {
        return !!target && target.tagName === "INPUT" && target.type === "file";
    }

    function openPicker(zone) {
        if (busy(zone)) { return; }
        var input = fileInput(inputOf(zone));
        if (!input) { return; }
        pickerZone = zone;
        input.setAttribute("accept", acceptOf(zone).join(","));
        input.click();
    }

    document.addEventListener("click", function (event) {
        if (isPicker(event.target)) { return; }  // the picker itself (page-rendered)
        var cancelled = false;
        Object.keys(inFlight).forEach(function (storeId) {
            var entry = inFlight[storeId];
            if (entry && within(event.target, cancelOf(entry.zone))) {
                entry.xhr.abort();
                cancelled = true;
            }
        });
        if (cancelled) { return; }
        if (within(event.target, CANCEL_ID)) { return; }  // a cancel with nothing in flight
        var zone = zoneOf(event.target);
        if (zone) { openPicker(zone); }
    });

    document.addEventListener("keydown", function (event) {
        var zone = zoneOf(event.target);
        if (zone && event.target === zone && (event.key === "Enter" || event.key === " ")) {
            event.preventDefault();  // Space would scroll the page
            openPicker(zone);
        }
    });

    // The zone a chosen file belongs to: the one that opened the picker, when it uses this
    // input and is still shown; else the first zone that uses it.
    function zoneForInput(input) {
        var users = zones().filter(function (zone) { return inputOf(zone) === input.id; });
        if (pickerZone && users.indexOf(pickerZone) >= 0) { return pickerZone; }
        return users.length ? users[0] : null;
    }

    document.addEventListener("change", function (event) {
        var input = event.target;
        if (!isPicker(input) || !input.id || !input.files || !input.files.length) { return; }
        var zone = zoneForInput(input);
        if (!zone) { return; }  // another file input of the page
        var file = input.files[0];
        input.value = "";  // choosing the same file again is a new change
        pickerZone = null;
        upload(zone, file);
    });

    // A file dropped anywhere on a page with a drop zone must not replace the page.
    function dragging(event) {
        var types = event.dataTransfer && event.dataTransfer.types;
        return !!types && Array.prototype.indexOf.call(types, "Files") >= 0;
    }

    ["dragenter", "dragover"].forEach(function (type) {
        document.addEventListener(type, function (event) {
            if (!dragging(event) || !document.querySelector(ZONES)) { return; }
            event.preventDefault();
            var zone = zoneOf(event.target);
            event.dataTransfer.dropEffect = zone && !busy(zone) ? "copy" : "none";
            if (zone) { zone.classList.add(DRAGOVER); }
        });
    });

    document.addEventListener("dragleave", function (event) {
        var zone = zoneOf(event.target);
        if (zone && !zone.contains(event.relatedTarget)) { zone.classList.remove(DRAGOVER); }
    });

    document.addEventListener("drop", function (event) {
        if (!dragging(event) || !document.querySelector(ZONES)) { return; }
        event.preventDefault();
        var zone = zoneOf(event.target);
        if (!zone) { return; }
        zone.classList.remove(DRAGOVER);
        var files = event.dataTransfer.files;
        if (files && files.length) { upload(zone, files[0]); }
    });

    window.addEventListener("beforeunload", function (event) {
        if (Object.keys(inFlight).length) { event.preventDefault(); event.returnValue = ""; }
    });

    function watch() {
        ensureInputs();
        if (typeof MutationObserver !== "function") { return; }
        var pending = false;
        new MutationObserver(function () {
            if (pending) { return; }
            pending = true;
            window.setTimeout(function () { pending = false; ensureInputs(); }, 50);
        }).observe(document.body, {childList: true, subtree: true});
    }

    if (document.body) { watch(); } else {
        document.addEventListener("DOMContentLoaded", watch);
    }
}());
