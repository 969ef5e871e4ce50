// Model version badges that refresh themselves while a worker validates the version.
// A badge with data-status-url is live (uploaded or validating): this asks the admin's status
// endpoint for every live badge on the page at once, updates each one, and stops when none is
// left. On a version's own page, the page reloads once validation ends, to show its results.
(function () {
  "use strict";

  var LIVE = ["uploaded", "validating"];
  var MAX_DELAY = 10000;
  var delay = 1500;
  var reloadWhenDone = false;

  function liveBadges() {
    var badges = document.querySelectorAll(".version-badge[data-status-url]");
    return Array.prototype.filter.call(badges, function (badge) {
      return LIVE.indexOf(badge.dataset.versionStatus) !== -1;
    });
  }

  function update(badge, state) {
    if (!state || state.status === badge.dataset.versionStatus) {
      return false;
    }
    badge.dataset.versionStatus = state.status;
    badge.className = "version-badge status-" + state.status;
    badge.textContent = state.label;
    return !state.live;
  }

  function poll() {
    var badges = liveBadges();
    if (!badges.length) {
      return;
    }
    var url = new URL(badges[0].dataset.statusUrl, window.location.href);
    badges.forEach(function (badge) {
      url.searchParams.append("id", badge.dataset.versionId);
    });
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("status " + response.status);
        }
        return response.json();
      })
      .then(function (data) {
        var settled = false;
        badges.forEach(function (badge) {
          settled = update(badge, data.versions[badge.dataset.versionId]) || settled;
        });
        if (settled && reloadWhenDone) {
          window.location.reload();
          return;
        }
        delay = Math.min(delay * 1.2, MAX_DELAY);
        window.setTimeout(poll, delay);
      })
      .catch(function () {
        delay = Math.min(delay * 2, MAX_DELAY); // signed out or offline: ask less often
        window.setTimeout(poll, delay);
      });
  }

  function start() {
    var body = document.body;
    reloadWhenDone =
      body.classList.contains("model-modelversion") && body.classList.contains("change-form");
    if (liveBadges().length) {
      window.setTimeout(poll, delay);
    }
  }

  // The admin loads form media in the page's head: wait for the badges.
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
