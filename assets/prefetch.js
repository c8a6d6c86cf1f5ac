/* Once a page has loaded and settled, and the browser is idle, fetch into the HTTP cache the
   two big scripts other pages need: plotly.js (charts, 417 kB compressed) and AG Grid's
   chunk (tables, 205 kB). Opening the next page then costs its data, not its code (issue
   #13: each page after the first under 200 kB). Nothing is fetched that the page already
   loaded, nor on a connection that asks to save data. When done, <html data-prefetched>
   says how many files were fetched (bench/bench_wire.py waits for it). */
(function () {
  "use strict";
  // Each file, and the component suite whose script must be on the page for the server to
  // have it (an app without AG Grid has no chunk to fetch).
  var FILES = [["plotly/package_data/plotly.min.js", "/dash/dcc/"],
               ["dash_ag_grid/async-community.js", "/dash_ag_grid/"]];
  var QUIET_MS = 2500;  // after the load event: Dash fetches the layout and runs callbacks

  function prefix() {
    try {
      var config = JSON.parse(document.getElementById("_dash-config").textContent);
      return config.requests_pathname_prefix || "/";
    } catch (e) {
      return "/";
    }
  }

  function finish(count) {
    document.documentElement.setAttribute("data-prefetched", String(count));
  }

  function busy() {
    // A callback in flight or a chart still loading: the page is not done yet.
    return document.querySelector("[data-dash-is-loading='true']") !== null ||
      /updating/.test(document.title);
  }

  function start(tries) {
    if (busy() && tries < 20) {
      setTimeout(function () { start(tries + 1); }, 500);
      return;
    }
    var connection = navigator.connection;
    if (connection && connection.saveData) {
      finish(0);
      return;
    }
    var base = location.origin + prefix() + "_dash-component-suites/";
    var loaded = performance.getEntriesByType("resource").map(function (entry) {
      return entry.name.split("?")[0];
    });
    var suites = Array.prototype.map.call(document.scripts, function (script) {
      return script.src || "";
    }).filter(function (src) { return src.indexOf(base) === 0; });
    var wanted = FILES.filter(function (file) {
      return suites.some(function (src) { return src.indexOf(file[1], base.length - 1) >= 0; });
    }).map(function (file) { return base + file[0]; }).filter(function (url) {
      return loaded.indexOf(url) < 0;
    });
    var left = wanted.length;
    if (!left) {
      finish(0);
      return;
    }
    wanted.forEach(function (url) {
      var link = document.createElement("link");
      link.rel = "prefetch";
      link.as = "script";
      link.href = url;
      link.onload = link.onerror = function () {
        left -= 1;
        if (!left) finish(wanted.length);
      };
      document.head.appendChild(link);
    });
  }

  function idle() {
    if (window.requestIdleCallback) {
      window.requestIdleCallback(function () { start(0); }, {timeout: 5000});
    } else {
      start(0);
    }
  }

  if (!document.getElementById("_dash-config")) return;  // not a dashboard page
  window.addEventListener("load", function () { setTimeout(idle, QUIET_MS); });
})();
