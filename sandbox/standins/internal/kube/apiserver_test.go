package kube

import (
	"encoding/json"
	"testing"
	"time"
)

func TestMergePatchConditionsByType(t *testing.T) {
	var current, patch map[string]interface{}
	_ = json.Unmarshal([]byte(`{"metadata":{"name":"n1","labels":{"a":"1"}},"status":{"conditions":[{"type":"Ready","status":"False"},{"type":"OutOfDisk","status":"False"}]}}`), &current)
	_ = json.Unmarshal([]byte(`{"metadata":{"labels":{"a":null,"b":"2"}},"status":{"conditions":[{"type":"Ready","status":"True"}]}}`), &patch)
	merged := mergePatch(current, patch).(map[string]interface{})
	labels := merged["metadata"].(map[string]interface{})["labels"].(map[string]interface{})
	if _, ok := labels["a"]; ok || labels["b"] != "2" {
		t.Errorf("labels = %v, want a removed and b added", labels)
	}
	conds := merged["status"].(map[string]interface{})["conditions"].([]interface{})
	if len(conds) != 2 || conds[0].(map[string]interface{})["status"] != "True" {
		t.Errorf("conditions = %v, want Ready=True merged in place and OutOfDisk kept", conds)
	}
}

func TestPresentMarksSilentNodeUnknown(t *testing.T) {
	s := &apiserver{}
	node := func(beat time.Time) map[string]interface{} {
		return map[string]interface{}{"metadata": map[string]interface{}{"name": "n1"}, "status": map[string]interface{}{
			"conditions": []interface{}{map[string]interface{}{"type": "Ready", "status": "True", "lastHeartbeatTime": beat.UTC().Format(time.RFC3339)}}}}
	}
	ready := func(n map[string]interface{}) string {
		return n["status"].(map[string]interface{})["conditions"].([]interface{})[0].(map[string]interface{})["status"].(string)
	}
	if got := ready(s.present(node(time.Now()), 7)); got != "True" {
		t.Errorf("fresh heartbeat: Ready = %s", got)
	}
	if got := ready(s.present(node(time.Now().Add(-time.Minute)), 7)); got != "Unknown" {
		t.Errorf("heartbeat a minute old: Ready = %s, want Unknown", got)
	}
	if rv := s.present(node(time.Now()), 7)["metadata"].(map[string]interface{})["resourceVersion"]; rv != "7" {
		t.Errorf("resourceVersion = %v", rv)
	}
}
