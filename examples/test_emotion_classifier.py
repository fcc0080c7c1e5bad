# test_emotion_classifier.py
import requests
import json
import time

# Configuration
API_URL = "http://localhost:7862/v1/chat/completions"
MODEL_NAME = "microsoft/Phi-3-mini-4k-instruct"

# Load system prompt
with open("emotion_classifier_prompt.txt", "r") as f:
    SYSTEM_PROMPT = f.read()

def classify_emotion(user_last_message: str, pika_response: str):
    """Gọi vLLM API để phân loại emotion"""
    
    user_content = f"""[CONTEXT]
user_last_message: "{user_last_message}"
pika_response: "{pika_response}"
[OUTPUT]
"""
    
    payload = {
        "model": MODEL_NAME,
        "messages": [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": user_content}
        ],
        "temperature": 0,
        "max_tokens": 50,
        "response_format": {"type": "json_object"}  # Force JSON output
    }
    
    start_time = time.time()
    response = requests.post(API_URL, json=payload)
    latency = (time.time() - start_time) * 1000  # Convert to ms
    
    if response.status_code == 200:
        result = response.json()
        content = result['choices'][0]['message']['content']
        parsed = json.loads(content)
        
        return {
            'emotion': parsed['emotion_name'],
            'celebrate': parsed['celebrate'],
            'latency_ms': round(latency, 2)
        }
    else:
        raise Exception(f"API Error: {response.status_code} - {response.text}")

# Test cases
test_cases = [
    {
        "name": "Factual Q&A - Should celebrate",
        "user": "Dạ, thủ đô của Việt Nam là Hà Nội ạ!",
        "pika": "Chính xác! Con thông minh lắm! Hà Nội là thủ đô của nước ta."
    },
    {
        "name": "Opinion - Should NOT celebrate",
        "user": "Tớ thích màu xanh nhất!",
        "pika": "Ồ, màu xanh đẹp thật! Màu xanh như bầu trời phải không?"
    },
    {
        "name": "Wrong answer - Should NOT celebrate",
        "user": "2 + 2 bằng 5 ạ",
        "pika": "Ơ, chưa đúng rồi! Thử lại xem, 2 thêm 2 nữa là mấy nhỉ?"
    }
]

print("🧪 TESTING EMOTION CLASSIFIER\n")
print("="*60)

for i, test in enumerate(test_cases, 1):
    print(f"\n📝 Test {i}: {test['name']}")
    print(f"   User: {test['user']}")
    print(f"   Pika: {test['pika']}")
    
    result = classify_emotion(test['user'], test['pika'])
    
    print(f"   ✅ Result: emotion={result['emotion']}, celebrate={result['celebrate']}")
    print(f"   ⏱️  Latency: {result['latency_ms']}ms")
    print("-"*60)

print("\n✨ All tests completed!")
