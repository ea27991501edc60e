// uPlot is loaded as a classic script (/static/vendor/uplot/uPlot.iife.min.js), which defines the
// global `uPlot`; its types come from the npm package.
declare const uPlot: typeof import("uplot");
