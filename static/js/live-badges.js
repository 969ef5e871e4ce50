// Status badges that refresh themselves while their row is on its way (portal/live_badges.py):
// a badge with data-status-url is live. This asks each status endpoint of the page for all of
// its live badges at once, updates each one (class, label, reason: a label may change while the
// status stays, a job's progress say), stops asking for a badge whose state is no longer live,
// and reloads the page when a badge marked data-reload-when-settled settles. No inline script,
// no library.
(function () {
  "use strict";

  var MAX_DELAY = 15000;
  var delay = 1500;

  function liveBadges() {
    return Array.prototype.slice.call(document.querySelectorAll("[data-status-url][data-badge-id]"));
  }

  function showReason(badge, reason) {
    var next = badge.nextElementSibling;
    if (next && next.classList.contains("badge-reason")) {
      next.textContent = reason;
      return;
    }
    if (reason) {
      var span = document.createElement("span");
      span.className = "badge-reason";
      span.textContent = reason;
      badge.insertAdjacentElement("afterend", span);
      badge.insertAdjacentText("afterend", " ");
    }
  }

  // Returns true when the badge settled and asks for a reload.
  function update(badge, state) {
    if (!state) {
      return false;
    }
    if (state.status !== badge.dataset.badgeStatus) {
      badge.classList.remove("status-" + badge.dataset.badgeStatus);
      badge.classList.add("status-" + state.status);
      badge.dataset.badgeStatus = state.status;
    }
    if (state.label !== badge.textContent) {
      badge.textContent = state.label;
    }
    showReason(badge, state.reason || "");
    if (state.live) {
      return false;
    }
    badge.removeAttribute("data-status-url"); // settled: no longer asked about
    return badge.hasAttribute("data-reload-when-settled");
  }

  // The live badges by their status endpoint (a page may show badges of several kinds).
  function byEndpoint(badges) {
    var groups = {};
    badges.forEach(function (badge) {
      var url = badge.dataset.statusUrl;
      (groups[url] = groups[url] || []).push(badge);
    });
    return groups;
  }

  // Asks one endpoint about its badges; resolves to true when one settled and asks for a reload.
  function ask(endpoint, badges) {
    var url = new URL(endpoint, window.location.href);
    badges.forEach(function (badge) {
      url.searchParams.append("id", badge.dataset.badgeId);
    });
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("status " + response.status);
        }
        return response.json();
      })
      .then(function (data) {
        var reload = false;
        badges.forEach(function (badge) {
          reload = update(badge, data.badges[badge.dataset.badgeId]) || reload;
        });
        return reload;
      });
  }

  function poll() {
    var badges = liveBadges();
    if (!badges.length) {
      return;
    }
    var groups = byEndpoint(badges);
    Promise.all(
      Object.keys(groups).map(function (endpoint) {
        return ask(endpoint, groups[endpoint]);
      })
    )
      .then(function (reloads) {
        var reload = reloads.some(function (asked) {
          return asked;
        });
        if (reload) {
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
