// The console's maps: the items page's one point, or the map page's points in clusters.
// Without a tile layer set, the points are drawn on a plain background.
(function () {
  "use strict";
  function base(element) {
    var map = L.map(element, { preferCanvas: true, maxZoom: 18 });
    var tiles = element.dataset.tiles;
    if (tiles) {
      L.tileLayer(tiles, { attribution: element.dataset.attribution || "", maxZoom: 18,
                           subdomains: ["1", "2", "3", "4"] }).addTo(map);
    }
    return map;
  }
  function dot(lat, lon, open) {
    return L.circleMarker([lat, lon], {
      radius: 7, weight: 2, color: "#fff", fillOpacity: 0.9,
      fillColor: open ? "#c62828" : "#2e7d32"
    });
  }
  var single = document.getElementById("item-map");
  if (single) {
    var lat = parseFloat(single.dataset.lat), lon = parseFloat(single.dataset.lon);
    var small = base(single).setView([lat, lon], 15);
    dot(lat, lon, true).addTo(small);
  }
  var element = document.getElementById("map");
  if (element) {
    var points = JSON.parse(document.getElementById("points").textContent);
    var map = base(element);
    var clusters = L.markerClusterGroup({ maxClusterRadius: 50 });
    points.forEach(function (p) {
      var marker = dot(p.lat, p.lon, p.open);
      var link = document.createElement("a");
      link.href = "/items/" + encodeURIComponent(p.ref);
      link.textContent = p.ref + " · " + p.label;
      marker.bindPopup(link);
      clusters.addLayer(marker);
    });
    map.addLayer(clusters);
    if (points.length) {
      map.fitBounds(clusters.getBounds(), { padding: [20, 20], maxZoom: 16 });
    } else {
      map.setView([31.2304, 121.4737], 10);
    }
    element.dataset.drawn = String(points.length);
  }
})();
