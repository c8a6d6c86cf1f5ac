// AG Grid cell renderers for dash-ag-grid (it looks them up here by name).
var dagcomponentfuncs = (window.dashAgGridComponentFunctions =
  window.dashAgGridComponentFunctions || {});

// A wrapped text cell of at most two lines, cut with an ellipsis (the tooltip holds all of
// it): in a 44 px row a third line was clipped at the top and bottom. A reason ("label: +29
// pts") keeps its points whole at the right, and only the label is cut.
dagcomponentfuncs.ClampedText = function (props) {
  var h = React.createElement;
  var value = props.value == null ? "" : String(props.value);
  var reason = /^(.*): ([+\u2212-]?\d[\d.,]* pts)$/.exec(value);
  if (!reason) {
    return h("span", { className: "cell-clamp" }, value);
  }
  return h("span", { className: "cell-reason" },
    h("span", { className: "cell-clamp" }, reason[1]),
    h("span", { className: "cell-pts" }, reason[2]));
};
