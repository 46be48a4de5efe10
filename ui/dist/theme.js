// Runs before first paint: applies the saved theme, so the page does not flash.
try {
  var t = localStorage.getItem('podtrace-theme');
  if (t === 'dark' || t === 'light') document.documentElement.dataset.theme = t;
} catch (e) {}
