// Publishing step badges that refresh themselves while a step is on its way (queued, sent,
// mined: the outbox sender and the sync work in the background). A badge with data-status-url
// is live: this asks the admin's status endpoint for every live badge on the page at once,
// updates each one (a failed step shows its reason), and stops when none is left.
(function () {
  "use strict";

  var LIVE = ["queued", "sent", "mined"];
  var MAX_DELAY = 15000;
  var delay = 2000;

  function liveBadges() {
    var badges = document.querySelectorAll(".publish-badge[data-status-url]");
    return Array.prototype.filter.call(badges, function (badge) {
      return LIVE.indexOf(badge.dataset.stepStatus) !== -1;
    });
  }

  function update(badge, state) {
    if (!state || state.status === badge.dataset.stepStatus) {
      return;
    }
    badge.dataset.stepStatus = state.status;
    badge.className = "publish-badge status-" + state.status;
    badge.textContent = state.label;
    if (state.reason) {
      var reason = document.createElement("span");
      reason.className = "publish-reason";
      reason.textContent = state.reason;
      badge.insertAdjacentElement("afterend", reason);
      badge.insertAdjacentText("afterend", " ");
    }
  }

  function poll() {
    var badges = liveBadges();
    if (!badges.length) {
      return;
    }
    var url = new URL(badges[0].dataset.statusUrl, window.location.href);
    badges.forEach(function (badge) {
      url.searchParams.append("id", badge.dataset.stepId);
    });
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("status " + response.status);
        }
        return response.json();
      })
      .then(function (data) {
        badges.forEach(function (badge) {
          update(badge, data.steps[badge.dataset.stepId]);
        });
        delay = Math.min(delay * 1.2, MAX_DELAY);
        window.setTimeout(poll, delay);
      })
      .catch(function () {
        delay = Math.min(delay * 2, MAX_DELAY); // signed out or offline: ask less often
        window.setTimeout(poll, delay);
      });
  }

  function start() {
    if (liveBadges().length) {
      window.setTimeout(poll, delay);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
